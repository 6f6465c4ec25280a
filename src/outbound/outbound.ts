// Performs a key's fetches with undici, on the daemon's side: every hop checked
// against the policy, connections only to checked addresses, and per-execution
// bounds on requests, response bytes and time.
import { STATUS_CODES } from 'node:http';
import { Agent, request } from 'undici';
import { AddressRefused, guardedLookup } from './address-guard.js';
import { type FetchPolicy, normalizeUrl } from './fetch-policy.js';
import { FetchFailure, type FetchRelay, type WireRequest, type WireResponse } from './wire.js';

export interface OutboundLimits {
  maxRequests: number;
  maxBytes: number;
  timeoutMs: number;
}

const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers undici sets itself, or that must not be chosen by a script (method overrides: some servers take them as the method, so a GET rule would carry a DELETE). */
const DROPPED_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authorization',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);
/** Sent on to the same origin only. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);

export class Outbound {
  private readonly agent: Agent;

  constructor(
    readonly policy: FetchPolicy,
    private readonly limits: OutboundLimits,
  ) {
    this.agent = new Agent({ connect: { lookup: guardedLookup((host) => policy.allowsPrivate(host)) } });
  }

  /** The fetches of one execution, bounded together, never outliving `timeLimitMs`. */
  session(timeLimitMs: number): OutboundSession {
    return new OutboundSession(this.policy, this.agent, this.limits, timeLimitMs);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

export class OutboundSession implements FetchRelay {
  private requests = 0;
  private bytes = 0;
  private readonly endsAt: number;
  /** Made with its first fetch: most executions never fetch, and a controller costs each of them. */
  private ended: AbortController | undefined;
  private closed = false;
  private readonly pending = new Map<number, AbortController>();

  constructor(
    private readonly policy: FetchPolicy,
    private readonly agent: Agent,
    private readonly limits: OutboundLimits,
    timeLimitMs: number,
  ) {
    this.endsAt = performance.now() + timeLimitMs;
  }

  async fetch(fetchId: number, wire: WireRequest): Promise<WireResponse> {
    if (this.closed) throw new FetchFailure('fetch aborted: the execution ended');
    this.ended ??= new AbortController();
    const controller = new AbortController();
    this.pending.set(fetchId, controller);
    try {
      return await this.follow(wire, AbortSignal.any([controller.signal, this.ended.signal]));
    } finally {
      this.pending.delete(fetchId);
    }
  }

  abort(fetchId: number): void {
    this.pending.get(fetchId)?.abort();
  }

  /** The execution is over: whatever it still has in flight is aborted. */
  close(): void {
    this.closed = true;
    this.ended?.abort();
  }

  private async follow(wire: WireRequest, aborted: AbortSignal): Promise<WireResponse> {
    let { method, body } = wire;
    let url = wire.url;
    let headers = wire.headers.filter(([name]) => !DROPPED_HEADERS.has(name.toLowerCase()));
    method = method.toUpperCase();
    if (body !== null && body.byteLength > this.limits.maxBytes) {
      throw new FetchFailure(
        `fetch refused: a request body of ${body.byteLength} bytes exceeds ${this.limits.maxBytes} bytes (FETCH_MAX_BYTES)`,
      );
    }
    for (let hop = 0; ; hop++) {
      const target = this.admit(method, url, hop > 0);
      const timeoutMs = Math.ceil(Math.min(this.limits.timeoutMs, Math.max(1, this.endsAt - performance.now())));
      const signal = AbortSignal.any([aborted, AbortSignal.timeout(timeoutMs)]);
      const response = await request(target, { method, headers: headers.flat(), body, dispatcher: this.agent, signal }).catch(
        (error: unknown) => {
          throw failure(error, target, timeoutMs);
        },
      );
      const location = response.headers.location;
      if (REDIRECTS.has(response.statusCode) && typeof location === 'string' && wire.redirect !== 'manual') {
        await response.body.dump();
        if (wire.redirect === 'error') throw new FetchFailure(`fetch failed: ${target.href} redirected, and redirect is "error"`);
        if (hop >= MAX_REDIRECTS) throw new FetchFailure(`fetch failed: more than ${MAX_REDIRECTS} redirects`);
        const next = new URL(location, target);
        if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')) {
          method = method === 'HEAD' ? 'HEAD' : 'GET';
          body = null;
          headers = headers.filter(([name]) => !name.toLowerCase().startsWith('content-'));
        }
        if (next.origin !== target.origin) headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.has(name.toLowerCase()));
        url = next.href;
        continue;
      }
      return {
        status: response.statusCode,
        statusText: STATUS_CODES[response.statusCode] ?? '',
        headers: flattenHeaders(response.headers),
        url: target.href,
        redirected: hop > 0,
        body: await this.read(response.body, target, timeoutMs),
      };
    }
  }

  /** Applies the policy and the request bound to one hop; returns the URL to request. */
  private admit(method: string, url: string, redirected: boolean): URL {
    const normalized = normalizeUrl(url);
    const prefix = redirected ? 'fetch refused a redirect' : 'fetch refused';
    if (!normalized.ok) throw new FetchFailure(`${prefix}: ${normalized.reason}`);
    const verdict = this.policy.check(method, normalized.url);
    if (!verdict.allowed) throw new FetchFailure(`${prefix}: ${verdict.reason}`);
    if (++this.requests > this.limits.maxRequests) {
      throw new FetchFailure(`${prefix}: more than ${this.limits.maxRequests} requests in one execution (FETCH_MAX_REQUESTS)`);
    }
    return normalized.url;
  }

  private async read(body: AsyncIterable<Buffer> & { destroy(): void }, target: URL, timeoutMs: number): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of body) {
        this.bytes += chunk.length;
        if (this.bytes > this.limits.maxBytes) {
          body.destroy();
          throw new FetchFailure(`fetch failed: responses of this execution exceed ${this.limits.maxBytes} bytes (FETCH_MAX_BYTES)`);
        }
        chunks.push(chunk);
      }
    } catch (error) {
      throw failure(error, target, timeoutMs);
    }
    return new Uint8Array(Buffer.concat(chunks));
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): [string, string][] {
  const flat: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) flat.push([name, one]);
  }
  return flat;
}

/** What the script is told about a failed request: never the daemon's internals beyond the cause. */
function failure(error: unknown, target: URL, timeoutMs: number): FetchFailure {
  if (error instanceof FetchFailure) return error;
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof AddressRefused) return new FetchFailure(`fetch refused: ${cause.message}`);
    if (cause.name === 'TimeoutError')
      return new FetchFailure(`fetch failed: ${target.origin} did not answer within ${Math.round(timeoutMs)} ms`);
    if (cause.name === 'AbortError') return new FetchFailure('fetch aborted: the execution ended');
  }
  const code = (error as { code?: unknown }).code;
  return new FetchFailure(
    `fetch failed: ${target.origin}: ${typeof code === 'string' ? code : error instanceof Error ? error.message : String(error)}`,
  );
}
