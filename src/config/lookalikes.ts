// Environment variables that look like a setting but are none: a misspelling
// (TIMOUT), another case (timeout), or a JAVASCRIPTD_ prefix (the CLI's own
// variables have one, the daemon's settings none). The daemon would ignore
// them silently; it warns instead, naming the setting meant.
import type { Setting } from './types.js';

/** Variables with the prefix that `javascriptd run` (the client CLI) reads: not the daemon's. */
const CLIENT_VARIABLES = new Set(['JAVASCRIPTD_URL', 'JAVASCRIPTD_SECRET']);
const PREFIX = 'JAVASCRIPTD_';
/** Longer names are no setting's misspelling; not compared, so the check stays cheap. */
const LONGEST = 64;

/**
 * Edit distance (insertions, deletions, substitutions and swaps of neighbours)
 * between `a` and `b`, or `limit + 1` once it must exceed `limit`.
 */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    if (Math.min(...row) > limit) return limit + 1;
    before = previous;
    previous = row;
  }
  return previous[b.length];
}

/**
 * The candidate `name` is most likely a misspelling of, compared without case:
 * one edit away from a name of up to 6 characters (HOST is not HOME), two from
 * a longer one. Undefined when none is that close.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const given = name.toUpperCase();
  let best: { candidate: string; edits: number } | undefined;
  for (const candidate of candidates) {
    const limit = candidate.length <= 6 ? 1 : 2;
    const edits = distance(given, candidate.toUpperCase(), limit);
    if (edits <= limit && (best === undefined || edits < best.edits)) best = { candidate, edits };
  }
  return best?.candidate;
}

/** Kubernetes' service links for a Service named javascriptd (JAVASCRIPTD_PORT=tcp://…, JAVASCRIPTD_SERVICE_HOST…): not meant for us. */
const isServiceLink = (name: string, value: string) =>
  /^JAVASCRIPTD_(SERVICE_|PORT_)/.test(name) || (name === 'JAVASCRIPTD_PORT' && /^[a-z]+:\/\//.test(value));

/** A warning for each variable of `env` that looks like one of `settings` but is none. */
export function lookalikeWarnings(env: NodeJS.ProcessEnv, settings: readonly Setting[]): string[] {
  const names = settings.map((s) => s.env);
  const known = new Set(names);
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (known.has(name) || value === undefined || name.length > LONGEST || isServiceLink(name, value)) continue;
    if (CLIENT_VARIABLES.has(name)) {
      // Set for the CLI in the same shell, harmless; but without SECRET it may have been meant as the daemon's.
      if (name === 'JAVASCRIPTD_SECRET' && !env.SECRET && !env.CONFIG)
        warnings.push(`${name} is read by \`javascriptd run\`, not by the daemon: its secret is SECRET, which is not set`);
      continue;
    }
    const prefixed = name.toUpperCase().startsWith(PREFIX);
    const likely = closest(prefixed ? name.slice(PREFIX.length) : name, names);
    if (likely !== undefined) warnings.push(`${name} is not a setting, and is ignored: did you mean ${likely}?`);
    else if (prefixed) warnings.push(`${name} is not a setting, and is ignored: settings have no prefix (javascriptd --help lists them)`);
  }
  return warnings;
}
