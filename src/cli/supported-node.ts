// The first thing the daemon's CLI loads (src/cli.ts imports it before
// anything else): on a Node outside package.json's `engines`, one line and
// exit 2, before undici, isolated-vm and the rest fail there with a stack
// trace. Plain code, for whatever old Node runs it.
// biome-ignore lint/style/useNodejsImportProtocol: the old Node this refuses may predate the node: prefix.
import { readFileSync } from 'fs';
// biome-ignore lint/style/useNodejsImportProtocol: as above.
import { join } from 'path';

type Version = [number, number, number];

function parseVersion(text: string): { version: Version; given: number } | undefined {
  const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text);
  if (match === null) return undefined;
  const given = match[3] !== undefined ? 3 : match[2] !== undefined ? 2 : 1;
  return { version: [Number(match[1]), Number(match[2] || 0), Number(match[3] || 0)], given };
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The first version after a partial one: 24 → 25.0.0, 24.1 → 24.2.0. */
function after(version: Version, given: number): Version {
  if (given === 1) return [version[0] + 1, 0, 0];
  return given === 2 ? [version[0], version[1] + 1, 0] : version;
}

/**
 * Whether `version` (process.version) is in `range`, read as npm reads
 * engines: comparators (>=, >, <=, <, =, none) joined by spaces, alternatives by
 * ||; a partial version covers its whole line (<=24 is <25.0.0). Undefined
 * for a range it cannot read.
 */
export function satisfies(version: string, range: string): boolean | undefined {
  const running = parseVersion(version);
  if (running === undefined) return undefined;
  const v = running.version;
  let readable = true;
  const sets = range.split('||').map((set) =>
    set
      .trim()
      .split(/\s+/)
      .filter((part) => part !== '')
      .every((comparator) => {
        const match = /^(>=|<=|>|<|=)?(.*)$/.exec(comparator);
        const bound = match === null ? undefined : parseVersion(match[2]);
        if (match === null || bound === undefined) {
          readable = false;
          return false;
        }
        const { version: b, given } = bound;
        const partial = given < 3;
        switch (match[1]) {
          case '>=':
            return compare(v, b) >= 0;
          case '<':
            return compare(v, b) < 0;
          case '>':
            return partial ? compare(v, after(b, given)) >= 0 : compare(v, b) > 0;
          case '<=':
            return partial ? compare(v, after(b, given)) < 0 : compare(v, b) <= 0;
          default:
            return partial ? compare(v, b) >= 0 && compare(v, after(b, given)) < 0 : compare(v, b) === 0;
        }
      }),
  );
  return readable ? sets.some((ok) => ok) : undefined;
}

function engines(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { engines?: { node?: unknown } };
    return typeof pkg.engines?.node === 'string' ? pkg.engines.node : undefined;
  } catch {
    return undefined;
  }
}

const needs = engines();
if (needs !== undefined && satisfies(process.version, needs) === false) {
  const hint = process.argv[2] === 'run' ? '; to run scripts from this Node, use javascriptd-client (npx javascriptd-client run …)' : '';
  process.stderr.write(`javascriptd: the daemon needs Node ${needs} (this is ${process.version})${hint}\n`);
  process.exit(2);
}
