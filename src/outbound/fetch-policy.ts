// The fetch policy of a key: deny by default; FETCH_ALLOW rules "METHOD URL"
// allow requests by method and URL pattern. In a pattern's path `*` matches one
// segment and a final `**` any rest, but never a segment servers decode
// differently (only a literal segment matches one); scheme, host and port must
// match exactly.
import { isIP } from 'node:net';

export interface FetchRule {
  /** Upper-case method, or '*' for any. */
  method: string;
  origin: string;
  /** Path segments of the pattern, '*' and '**' included. */
  segments: string[];
  source: string;
}

export type Verdict = { allowed: true; rule: FetchRule } | { allowed: false; reason: string };

const UNRESERVED = /%(2[DEde]|5[Ff]|7[Ee]|3[0-9]|4[1-9A-Fa-f]|5[0-9Aa]|6[1-9A-Fa-f]|7[0-9Aa])/g;
/**
 * What makes a normalised segment mean different paths to different servers: an
 * encoded `/` or `\` (a server that decodes before routing splits there), `%`
 * (double encoding, or a `%` that starts no escape, as IIS's `%u002f`), an
 * encoded control character, `;` plain or encoded (path parameters, as in
 * Tomcat's `..;/`), or an overlong UTF-8 lead byte (`%C0%AF`, an old `/`).
 */
const AMBIGUOUS = /%(2F|5C|25|3B|[01][0-9A-F]|7F|C[01])|%(?![0-9A-F]{2})|;/i;

/**
 * The URL as rules see it: parsed by the WHATWG parser (lower-case scheme and
 * host, default ports dropped, `.`/`..` resolved), with percent-encoded
 * unreserved characters decoded and other escapes upper-cased, so one resource
 * has one spelling. Credentials in a URL are refused.
 */
export function normalizeUrl(input: string): { ok: true; url: URL } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: `'${input}' is not an absolute URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: `only http and https URLs can be fetched, not ${url.protocol}` };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'URLs with credentials are not allowed' };
  url.pathname = url.pathname
    .replace(UNRESERVED, (escaped) => String.fromCharCode(Number.parseInt(escaped.slice(1), 16)))
    .replace(/%[0-9a-f]{2}/gi, (escaped) => escaped.toUpperCase());
  url.hash = '';
  return { ok: true, url };
}

export class FetchPolicy {
  private constructor(
    readonly rules: readonly FetchRule[],
    private readonly privateHosts: ReadonlySet<string>,
  ) {}

  /** Parses the rules; `problems` receives one line for each rule that cannot be used. */
  static parse(rules: readonly string[], allowPrivate: readonly string[], problems: string[]): FetchPolicy {
    const parsed: FetchRule[] = [];
    for (const source of rules) {
      const rule = parseRule(source);
      if (typeof rule === 'string') problems.push(`FETCH_ALLOW rule "${source}": ${rule}`);
      else parsed.push(rule);
    }
    const privateHosts = new Set(allowPrivate.map((host) => host.toLowerCase()));
    // A rule that names an address literally allows that address.
    for (const rule of parsed) {
      const host = new URL(rule.origin).hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) privateHosts.add(host);
    }
    return new FetchPolicy(parsed, privateHosts);
  }

  check(method: string, url: URL): Verdict {
    const segments = url.pathname.split('/').slice(1);
    const fits = this.rules
      .filter((r) => (r.method === '*' || r.method === method) && r.origin === url.origin)
      .flatMap((rule) => {
        const covered = wildcarded(rule.segments, segments);
        return covered === undefined ? [] : [{ rule, covered }];
      });
    const fit = fits.find((f) => !f.covered.some((s) => AMBIGUOUS.test(s)));
    if (fit !== undefined) return { allowed: true, rule: fit.rule };
    const target = `${method} ${url.origin}${url.pathname}`;
    // A rule fits but for a wildcard over an ambiguous segment: name that segment.
    const ambiguous = fits[0]?.covered.find((s) => AMBIGUOUS.test(s));
    if (ambiguous !== undefined) {
      return {
        allowed: false,
        reason: `the path of ${target} has a segment servers decode differently ('${ambiguous}': ${ambiguous.match(AMBIGUOUS)?.[0]}); only a FETCH_ALLOW rule that spells that segment out allows it`,
      };
    }
    const sameOrigin = this.rules.filter((r) => r.origin === url.origin);
    if (sameOrigin.length === 0) return { allowed: false, reason: `no FETCH_ALLOW rule allows ${target} (none names ${url.origin})` };
    return {
      allowed: false,
      reason: `no FETCH_ALLOW rule allows ${target} (rules for this origin: ${sameOrigin.map((r) => `"${r.source}"`).join(', ')})`,
    };
  }

  /** Whether `host` may be reached at loopback, private or link-local addresses. */
  allowsPrivate(host: string): boolean {
    return this.privateHosts.has(host.toLowerCase().replace(/^\[|\]$/g, ''));
  }
}

function parseRule(source: string): FetchRule | string {
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 2) return 'expected "METHOD URL", e.g. "GET https://api.github.com/users/*/gists"';
  const method = parts[0].toUpperCase();
  if (method !== '*' && !/^[A-Z]+$/.test(method)) return `'${parts[0]}' is not a method`;
  const normalized = normalizeUrl(parts[1].replace(/\*/g, '%2A'));
  if (!normalized.ok) return normalized.reason;
  if (normalized.url.search !== '') return 'a pattern matches paths; it cannot have a query';
  if (/%2a|\*/i.test(normalized.url.host)) return 'the host must be exact; patterns apply to the path only';
  const segments = normalized.url.pathname
    .split('/')
    .slice(1)
    .map((s) => (s === '%2A' ? '*' : s === '%2A%2A' ? '**' : s));
  if (segments.some((s) => s.includes('%2A'))) return "'*' and '**' must be whole path segments";
  if (segments.slice(0, -1).includes('**')) return "'**' may only end a pattern";
  return { method, origin: normalized.url.origin, segments, source: source.trim() };
}

/** The segments of `path` that the pattern's `*` and `**` stand for, or undefined if it does not fit. */
function wildcarded(pattern: readonly string[], path: readonly string[]): string[] | undefined {
  const covered: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '**') return [...covered, ...path.slice(i)];
    if (i >= path.length) return undefined;
    if (pattern[i] === '*' && path[i] === '') return undefined;
    if (pattern[i] === '*') covered.push(path[i]);
    else if (pattern[i] !== path[i]) return undefined;
  }
  return pattern.length === path.length ? covered : undefined;
}
