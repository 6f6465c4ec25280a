// Positions in the JavaScript a sandbox ran, mapped back to the source the
// client sent (TypeScript, or a module before it was bundled), with the source
// map esbuild made of it (runtime/source-transform.ts).
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';

const FRAME = /^\s+at /;

export class SourcePositions {
  private traced: TraceMap | undefined;
  private readonly position: RegExp;

  /**
   * `ran` is the file name the sandbox compiled the code under (script.js,
   * module.js); `source` the name its positions are given under (script.ts…);
   * `map` esbuild's source map, read on the first error only.
   */
  constructor(
    ran: string,
    private readonly source: string,
    private readonly map: string,
  ) {
    this.position = new RegExp(`(?<![\\w.-])${ran.replace(/\./g, '\\.')}:(\\d+):(\\d+)`, 'g');
  }

  /** Bytes it holds, for the cache's bound. */
  get bytes(): number {
    return this.map.length;
  }

  /** A 1000's message and stack with the source's positions; frames of code the daemon added (esbuild's helpers) are left out. */
  error(error: RpcError): RpcError {
    return errors.rewriteException(error, {
      message: (message) => this.rewrite(message) ?? message,
      stack: (stack) =>
        stack
          .split('\n')
          .flatMap((line) => {
            const rewritten = this.rewrite(line);
            return rewritten !== undefined ? [rewritten] : FRAME.test(line) ? [] : [line];
          })
          .join('\n'),
    });
  }

  /** `text` with every position of the code that ran replaced by the source's; undefined if one of them is not in the source. */
  private rewrite(text: string): string | undefined {
    let unmapped = false;
    const rewritten = text.replace(this.position, (found, line: string, column: string) => {
      const original = originalPositionFor(this.trace(), { line: Number(line), column: Number(column) - 1 });
      if (original.source !== this.source || original.line === null) {
        unmapped = true;
        return found;
      }
      return `${this.source}:${original.line}:${original.column + 1}`;
    });
    return unmapped ? undefined : rewritten;
  }

  private trace(): TraceMap {
    this.traced ??= new TraceMap(this.map);
    return this.traced;
  }
}
