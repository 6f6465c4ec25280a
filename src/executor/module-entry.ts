// Running an ES module script (the daemon bundled it: it imports nothing, see
// runtime/source-transform.ts) in an execution's fresh context.
//
// isolated-vm 7's `evaluate` does not hand back the promise of a module's
// evaluation, so it cannot say when a top-level await is over. An entry module
// does: it imports the script, so V8 runs its body only once the script's
// evaluation has finished, and that body enters the prelude with the script's
// namespace. A script that throws, at once or after an await, rejects the
// entry's evaluation: isolated-vm throws that out of the call running at the
// time, as it does every unhandled rejection, and the execution fails with it.
//
// The prelude's `enter` reaches the entry through a global that a first
// module, evaluated before the script (imports are evaluated in order), takes
// and deletes: the script never sees it. It cannot import either module (the
// daemon refused every import). Both are named like the prelude, so their
// frames are left out of stacks (thrown.ts).
import type ivm from 'isolated-vm';

const SCRIPT = 'javascriptd:script';
const TAKE = 'javascriptd:take-enter';
const HANDOVER = '__javascriptdEnter';

const TAKE_SOURCE = `const enter = globalThis.${HANDOVER};\ndelete globalThis.${HANDOVER};\nexport { enter };\n`;

/** The entry: `call` and `caller` are written into it as string literals. */
function entrySource(call: string | null, caller: string | null): string {
  return `import { enter } from '${TAKE}';\nimport * as script from '${SCRIPT}';\nenter('start-module', script, ${JSON.stringify(call)}, ${JSON.stringify(caller)});\n`;
}

export interface LinkedModule {
  /** Evaluates the script, then (at once, or once its top-level await is over) the prelude starts it. */
  evaluate(timeoutMs: number): Promise<unknown>;
  /** What to release once the execution is over. */
  handles: { release(): void }[];
}

export interface ModuleToLink {
  isolate: ivm.Isolate;
  context: ivm.Context;
  /** The prelude's way in. */
  enter: ivm.Reference;
  /** The script's, as the request gave them. */
  code: string;
  call: string | null;
  caller: string | null;
}

/** Compiles and links the script `code` with its entry in `context`. */
export async function linkModule({ isolate, context, enter, code, call, caller }: ModuleToLink): Promise<LinkedModule> {
  const handles: { release(): void }[] = [];
  try {
    const compile = async (source: string, filename: string) => {
      const module = await isolate.compileModule(source, { filename });
      handles.push(module);
      return module;
    };
    const script = await compile(code, 'module.js');
    const take = await compile(TAKE_SOURCE, 'javascriptd:prelude:take');
    const entry = await compile(entrySource(call, caller), 'javascriptd:prelude:entry');
    const linked = new Map([
      [SCRIPT, script],
      [TAKE, take],
    ]);
    await entry.instantiate(context, (specifier) => {
      const found = linked.get(specifier);
      if (found === undefined) throw new Error(`unexpected import '${specifier}'`);
      return found;
    });
    await context.global.set(HANDOVER, enter.derefInto());
    return { evaluate: (timeoutMs) => entry.evaluate({ timeout: timeoutMs }), handles };
  } catch (error) {
    for (const handle of handles) handle.release();
    throw error;
  }
}
