// TypeScript and ES module scripts, made into the JavaScript a sandbox runs,
// in the daemon (sandbox processes never load esbuild):
// - a classic TypeScript script has its types stripped (esbuild `transform`,
//   no format: top-level declarations stay globals, the last expression stays
//   the completion value);
// - a module is bundled (esbuild `build`, format esm) into one that imports
//   nothing: each allowlisted name it imports becomes a virtual CommonJS module
//   `module.exports = require(name)` served by the prelude's `require` (esbuild's
//   interop gives default and named imports), `import()` becomes a require (a
//   computed name then fails as `require` does), and any other specifier fails
//   the build, naming it. A plugin resolves every import itself, so esbuild
//   reads no file.
// What is made is kept by the hash of its source (bounded, least recently used
// first), with the source map that maps the sandbox's errors back to the
// source. A script esbuild refuses is a 1000 at its source position; so is one
// over MAX_SOURCE_BYTES or MAX_SOURCE_DEPTH (source-bounds.ts), which esbuild
// never sees. esbuild runs under supervision (esbuild-service.ts): a service
// that dies, hangs or outgrows its memory fails only the transforms it has in
// hand.
import { createHash } from 'node:crypto';
import { build, type Message, type Plugin, transform } from 'esbuild';
import * as errors from '../errors.js';
import { RpcError, type Thrown } from '../errors.js';
import type { ExecutionRequest, ExecutionResult } from '../shared/contract.js';
import { Lru } from '../shared/lru.js';
import type { EsbuildService } from './esbuild-service.js';
import { outOfBounds, type SourceLimits } from './source-bounds.js';
import { SourcePositions } from './source-map.js';

const MAX_ENTRIES = 256;
const MAX_BYTES = 32 * 1024 * 1024;
const ALLOWED = 'javascriptd-allowed';

type Made = { code: string; codeHash: string; positions: SourcePositions } | { thrown: Thrown };

export class SourceTransform {
  private readonly made = new Lru<Made>(MAX_ENTRIES, MAX_BYTES);
  private readonly plugin: Plugin;
  /** Source bytes being transformed now, bounded by `maxBytes` (QUEUE_BYTES): requests waiting here are not in the queue yet. */
  private transforming = 0;

  /**
   * `modules`: the names a module may import (the key's allowlist); `maxBytes`:
   * source bytes that may wait for esbuild at once; `limits`: what one source
   * may be; `esbuild`: the daemon's supervised service.
   */
  constructor(
    modules: readonly string[],
    private readonly maxBytes: number,
    private readonly limits: SourceLimits,
    private readonly esbuild: EsbuildService,
  ) {
    this.plugin = allowlistPlugin(modules);
  }

  /** Runs `request` through `execute` as JavaScript: made from TypeScript or a module first, its 1000 errors mapped back to its source. */
  async run(request: ExecutionRequest, execute: (request: ExecutionRequest) => Promise<ExecutionResult>): Promise<ExecutionResult> {
    if (request.module !== true && request.typescript !== true) return execute(request);
    const made = await this.make(request);
    if ('thrown' in made) throw errors.exception(made.thrown, []);
    try {
      return await execute({ ...request, code: made.code, codeHash: made.codeHash, typescript: undefined });
    } catch (error) {
      throw error instanceof RpcError ? made.positions.error(error) : error;
    }
  }

  private async make(request: ExecutionRequest): Promise<Made> {
    const kind = request.module === true ? 'module' : 'script';
    const source = `${kind}.${request.typescript === true ? 'ts' : 'js'}`;
    const key = `${source}:${request.codeHash}`;
    const cached = this.made.get(key);
    if (cached !== undefined) return cached;
    const bytes = Buffer.byteLength(request.code);
    const over = outOfBounds(request.code, bytes, source, this.limits);
    if (over !== undefined) return { thrown: over };
    if (this.transforming + bytes > this.maxBytes) throw errors.busy('too many scripts are waiting to be transformed (QUEUE_BYTES)');
    this.transforming += bytes;
    try {
      const made = await this.compile(request, source, `${kind}.js`).catch(refused);
      return this.made.set(key, made, bytes + ('code' in made ? made.code.length + made.positions.bytes : 0));
    } finally {
      this.transforming -= bytes;
    }
  }

  /** The JavaScript of `request`'s code, to be run as `ran`, with its source map; esbuild's failure rejects. */
  private async compile(request: ExecutionRequest, source: string, ran: string): Promise<Made> {
    const loader = request.typescript === true ? 'ts' : 'js';
    // No tsconfig.json is read: TypeScript settings that change the output would differ from machine to machine.
    const common = { sourcemap: 'external', sourcesContent: false, tsconfigRaw: {}, logLevel: 'silent' } as const;
    let code: string;
    let map: string;
    if (request.module === true) {
      const result = await this.esbuild.run(() =>
        build({
          ...common,
          stdin: { contents: request.code, loader, sourcefile: source },
          bundle: true,
          write: false,
          format: 'esm',
          platform: 'neutral',
          outfile: ran,
          supported: { 'dynamic-import': false },
          plugins: [this.plugin],
        }),
      );
      const output = (suffix: string) => result.outputFiles.find((file) => file.path.endsWith(suffix))?.text ?? '';
      code = output('.js');
      map = output('.js.map');
    } else {
      ({ code, map } = await this.esbuild.run(() => transform(request.code, { ...common, loader, sourcefile: source })));
    }
    return { code, codeHash: createHash('sha256').update(code).digest('hex'), positions: new SourcePositions(ran, source, map) };
  }
}

/** Allowlisted names become virtual CommonJS modules requiring them; every other specifier is refused, naming it. */
function allowlistPlugin(modules: readonly string[]): Plugin {
  const allowed = new Set(modules);
  return {
    name: 'javascriptd-allowlist',
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, ({ path, namespace }) => {
        // The virtual module's own require() is the prelude's, at run time.
        if (namespace === ALLOWED) return { path, external: true };
        if (allowed.has(path)) return { path, namespace: ALLOWED };
        return { errors: [{ text: `module '${path}' is not allowed` }] };
      });
      builder.onLoad({ filter: /.*/, namespace: ALLOWED }, ({ path }) => ({
        contents: `module.exports = require(${JSON.stringify(path)});`,
        loader: 'js',
      }));
    },
  };
}

/** esbuild's refusal of a script as what it threw, at its source position; anything else (the service failing: -32603) fails the request. */
function refused(error: unknown): Made {
  const messages = (error as { errors?: Message[] } | undefined)?.errors;
  const first = Array.isArray(messages) ? messages[0] : undefined;
  if (first === undefined) throw error;
  // A refused import is the Error `require` throws for it; the rest are syntax errors.
  const name = first.pluginName === '' ? 'SyntaxError' : 'Error';
  const at = first.location === null ? '' : ` [${first.location.file}:${first.location.line}:${first.location.column + 1}]`;
  const message = `${first.text}${at}`;
  return { thrown: { name, message, stack: `${name}: ${message}` } };
}
