// An isolate's library realm, with shared module instances: a context of its
// own where src/prelude-library/library.js makes the key's modules once (SES
// lockdown, then the modules, hardened) the first time a script of the isolate
// requires one; every later execution of the isolate gets the same frozen
// exports. Isolates whose scripts never require a module never make one: a
// realm costs a context and a few MB.
import ivm from 'isolated-vm';
import { readCodeCache, type ScriptSource } from '../shared/prelude-source.js';

/** Bound on making the realm (trusted code, tens of ms), so a broken module cannot hang a sandbox. */
const MAKE_TIMEOUT_MS = 10_000;

export class LibraryRealm {
  /** The made modules (name → { exports } or { error }), for the prelude to deref. */
  private made: ivm.Reference | undefined;
  /** Made during the execution that asked for it: what it holds is the isolate's from then on, not garbage. */
  private justMade = false;
  /** Making it failed: the isolate is not to be reused. */
  lost = false;
  private readonly allowedJson: string;

  constructor(
    private readonly isolate: ivm.Isolate,
    private readonly source: ScriptSource,
    allowed: readonly string[],
  ) {
    this.allowedJson = JSON.stringify(allowed);
  }

  /** The modules, if a script of this isolate has required one. */
  get modules(): ivm.Reference | undefined {
    return this.made;
  }

  /**
   * The modules, made now if need be: asked by the prelude from inside a
   * running call of the isolate, they are made by a nested call (isolated-vm
   * runs it on this thread), with the realm's context entered, as SES needs;
   * a script's time limit cannot stop it half-way.
   */
  make(): ivm.Reference {
    if (this.made !== undefined) return this.made;
    if (this.lost) throw new Error('the allowlisted modules could not be made in this isolate');
    this.lost = true;
    // Compiled only now (from its code cache when there is one): most isolates never make a realm.
    const cached = readCodeCache(this.source);
    const script = this.isolate.compileScriptSync(this.source.source, {
      filename: 'javascriptd:library',
      ...(cached === undefined ? {} : { cachedData: new ivm.ExternalCopy(cached) }),
    });
    const context = this.isolate.createContextSync();
    const makeModules = script.runSync(context, { reference: true, timeout: MAKE_TIMEOUT_MS }) as ivm.Reference;
    try {
      this.made = makeModules.applySync(undefined, [this.allowedJson], {
        result: { reference: true },
        timeout: MAKE_TIMEOUT_MS,
      }) as ivm.Reference;
    } finally {
      makeModules.release();
    }
    this.lost = false;
    this.justMade = true;
    return this.made;
  }

  /** True once after the execution that made it: the isolate's heap from then on holds the modules. */
  takeJustMade(): boolean {
    const made = this.justMade;
    this.justMade = false;
    return made;
  }
}
