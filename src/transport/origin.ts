// Which web pages, and which host names, may use the daemon. A browser lets any
// page open a WebSocket to any address (or POST to it), saying in the Origin
// header which page it is; so an upgrade (or a POST) from a page on another origin is refused unless
// ALLOWED_ORIGINS lists that origin, secret or not. And a page whose own name
// an attacker re-points at 127.0.0.1 (DNS rebinding) reaches a loopback daemon
// as its own origin, under that name, which only the Host header shows; so
// while the daemon listens on loopback, a request for any but a loopback name
// is refused unless ALLOWED_HOSTS lists it. Neither check stops a program,
// which sends what headers it likes: programs are what the secret is for.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Logger } from '../log.js';
import { Lru } from '../shared/lru.js';
import { clip } from '../text.js';

/** In ALLOWED_ORIGINS or ALLOWED_HOSTS: any. */
export const ANY = '*';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8 or ::1 (an IPv4-mapped ::ffff:127.x.y.z too: BlockList judges it by its IPv4 address). */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * `text` as browsers write an origin (scheme://host[:port], lower case, no
 * default port), or undefined when it is not one: a path, a query, user info
 * or `null` (what a sandboxed frame or a file: page sends) are not origins.
 */
export function parseOrigin(text: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\\\s]+$/i.test(text)) return undefined;
  try {
    const url = new URL(text);
    return url.host === '' ? undefined : `${url.protocol}//${url.host}`;
  } catch {
    return undefined;
  }
}

/** The host name of an authority (host[:port]) as a browser writes it (WHATWG URL: lower case, IPv4 and IDNA normalised, no trailing dot). */
function hostOf(authority: string, scheme = 'http:'): URL | undefined {
  if (!/^[^/?#@\\\s]+$/.test(authority)) return undefined;
  try {
    const url = new URL(`${scheme}//${authority}`);
    url.hostname = url.hostname.replace(/\.$/, '');
    return url;
  } catch {
    return undefined;
  }
}

/** An ALLOWED_HOSTS entry (a host name or IP address, without port) in the form Host headers are compared in, or undefined. */
export function parseHostName(text: string): string | undefined {
  const authority = isIP(text) === 6 ? `[${text}]` : text;
  // A colon left once a bracketed IPv6 address is taken out starts a port.
  if (authority.replace(/^\[[^\]]*\]/, '').includes(':')) return undefined;
  return hostOf(authority)?.hostname;
}

/** localhost and *.localhost (RFC 6761: never looked up in DNS, so no page can re-point them), 127.0.0.0/8, [::1]. */
function isLoopbackName(hostname: string): boolean {
  if (hostname.startsWith('[')) return isLoopbackAddress(hostname.slice(1, -1));
  return isLoopbackAddress(hostname) || hostname === 'localhost' || hostname.endsWith('.localhost');
}

export interface GuardSettings {
  /** Normalised origins (parseOrigin), or `*`. */
  allowedOrigins: readonly string[];
  /** Normalised host names (parseHostName), or `*`. */
  allowedHosts: readonly string[];
  /** Whether the daemon listens on a loopback address. */
  loopback: boolean;
}

export const HOST_REFUSED = 'Host not allowed: this daemon answers to loopback names (localhost, 127.0.0.1, [::1]) and to ALLOWED_HOSTS\n';
export const ORIGIN_REFUSED =
  'Origin not allowed: a page on another origin may open a WebSocket or POST here only if ALLOWED_ORIGINS lists it\n';

/** Checks each request's Host and each upgrade's Origin; says why one is refused (the 403's body), logging it. */
export class PageGuard {
  private readonly origins: ReadonlySet<string>;
  private readonly hosts: ReadonlySet<string>;
  private readonly anyOrigin: boolean;
  /** Listening on loopback, or with ALLOWED_HOSTS set (and not `*`): elsewhere the daemon is reached under names it cannot know. */
  private readonly checksHost: boolean;
  private readonly refusals: RefusalLog;

  constructor(settings: GuardSettings, log: Logger) {
    this.origins = new Set(settings.allowedOrigins);
    this.hosts = new Set(settings.allowedHosts);
    this.anyOrigin = this.origins.has(ANY);
    this.checksHost = !this.hosts.has(ANY) && (settings.loopback || this.hosts.size > 0);
    this.refusals = new RefusalLog(log);
  }

  /** Why `req` is refused for its Host, or undefined. A request without Host (HTTP/1.0) is no browser's. */
  refuseHost(req: IncomingMessage): string | undefined {
    const header = req.headers.host;
    if (!this.checksHost || header === undefined) return undefined;
    const hostname = hostOf(header)?.hostname;
    if (hostname !== undefined && (isLoopbackName(hostname) || this.hosts.has(hostname))) return undefined;
    this.refusals.add('host', header, req, 'refused a request for a host name neither loopback nor in ALLOWED_HOSTS');
    return HOST_REFUSED;
  }

  /** Why `req` (`what`: a WebSocket upgrade, a POST…) is refused for its Origin, or undefined; its Host has passed refuseHost. */
  refuseOrigin(req: IncomingMessage, what = 'a WebSocket upgrade'): string | undefined {
    const header = req.headers.origin;
    if (header === undefined || this.anyOrigin) return undefined;
    const origin = parseOrigin(header);
    if (origin !== undefined && (this.origins.has(origin) || isOwnOrigin(origin, req.headers.host))) return undefined;
    this.refusals.add('origin', header, req, `refused ${what} from a page on an origin not in ALLOWED_ORIGINS`);
    return ORIGIN_REFUSED;
  }
}

/**
 * Whether the page is one the daemon served: its host and port are the
 * request's Host. The scheme is not compared (as gorilla/websocket does not):
 * behind a proxy that ends TLS, the page is https and the daemon plain HTTP.
 */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  const page = new URL(origin);
  if (host === undefined || (page.protocol !== 'http:' && page.protocol !== 'https:')) return false;
  page.hostname = page.hostname.replace(/\.$/, '');
  return hostOf(host, page.protocol)?.host === page.host;
}

/** Refusals logged per origin or host, once each (the last REMEMBERED remembered). */
const REMEMBERED = 1000;
/** At most LOG_LINES refusal lines per LOG_WINDOW_MS; the next line counts those not logged. */
const LOG_LINES = 10;
const LOG_WINDOW_MS = 10_000;

/** Logs a refused origin or host name the first time, with a bound on lines however many a client makes up. */
class RefusalLog {
  private readonly logged = new Lru<true>(REMEMBERED, Infinity);
  private windowStart = -Infinity;
  private lines = 0;
  private unlogged = 0;

  constructor(private readonly log: Logger) {}

  add(what: 'origin' | 'host', value: string, req: IncomingMessage, message: string): void {
    const shown = clip(value);
    const key = `${what} ${shown}`;
    if (this.logged.get(key) !== undefined) return;
    const now = performance.now();
    if (now - this.windowStart >= LOG_WINDOW_MS) {
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines >= LOG_LINES) {
      this.unlogged++;
      return;
    }
    this.lines++;
    this.logged.set(key, true, 0);
    const unlogged = this.unlogged > 0 ? { unlogged: this.unlogged } : {};
    this.log.warn({ [what]: shown, remote: req.socket.remoteAddress, ...unlogged }, message);
    this.unlogged = 0;
  }
}
