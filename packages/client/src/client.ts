// The client of javascriptd: one WebSocket speaking Duplex, many calls in
// flight on it, each with its own id. When the connection drops it reconnects
// with exponential backoff and jitter; calls made meanwhile wait for it.
import { EventEmitter, once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { ConnectionError, ExecutionError } from './errors.js';

/** The Duplex handshake (json codec) and its answer, as in the daemon's src/protocol/duplex.ts. */
const DUPLEX_HANDSHAKE = 'SIMPLEX/1.0;json';
const DUPLEX_ACCEPT = '+OK';

export interface ConnectOptions {
  /** Sent as x-runtime-secret. */
  secret?: string;
  /** More headers for the WebSocket upgrade (a proxy's, for example). */
  headers?: Record<string, string>;
  /** CA certificates to trust for wss:// (PEM). */
  ca?: string | Buffer | (string | Buffer)[];
  /** How long one connection attempt may take, handshake included. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Reconnecting after the connection drops; `false` to give up at once. Default: forever, 100 ms doubling to 5 s. */
  reconnect?: false | { retries?: number; minDelayMs?: number; maxDelayMs?: number };
  /**
   * Send calls that were in flight when the connection dropped again, once
   * reconnected, instead of failing them with `connection-lost`. Only for
   * scripts that may run twice (no fetch with side effects). Default false.
   */
  resendUnanswered?: boolean;
}

/** What runtime.execute runs: see SCRIPT in the javascriptd docs/protocol.md. */
export interface Script {
  code: string;
  call?: string;
  caller?: string;
  globals?: Record<string, unknown>;
  /** The script's time limit in the daemon, ms. */
  timeout?: number;
  /** `code` is an ES module: it may import the allowlisted modules and await at its top level; `call` names an export. */
  module?: boolean;
  /** `code` is TypeScript: the daemon strips its types (it does not type-check); errors point at its own lines. */
  typescript?: boolean;
  /** Ask for what the run cost: the result's `usage` (an error's `data.usage`). */
  usage?: boolean;
}

/** runtime.execute's params on the wire: the script, and `stream` when its console lines are followed (ExecuteOptions.onConsole). */
export interface ScriptParams extends Script {
  stream?: boolean;
}

export interface ExecuteOptions {
  /** Stops the execution: the call rejects with the signal's reason at once, and the daemon is sent runtime.cancel. */
  signal?: AbortSignal;
  /** The same after this long, ms, with a TimeoutError. */
  timeoutMs?: number;
  /** Each console line as the script prints it (the result still carries them all). */
  onConsole?: (line: string) => void;
}

/** What a run cost, when the script asked for `usage`: see "Following a run" in the javascriptd docs/protocol.md for how each is measured. */
export type Usage = {
  /** CPU time the isolate spent in this execution's calls, ms. */
  cpuMs: number;
  /** From its context being ready to its outcome, ms: the same as `time`. */
  wallMs: number;
  /** The most the isolate's heap grew above where it stood when the execution began, bytes. */
  heapBytes: number;
  /** Requests it handed to the daemon, refused ones included. */
  fetchRequests: number;
  /** Bytes of request bodies sent, and of response bodies received. */
  fetchBytesOut: number;
  fetchBytesIn: number;
  /** Bytes the script printed (each line counting one more), kept or dropped. */
  consoleBytes: number;
};

export interface ExecutionResult {
  value: unknown;
  console: string[];
  /** How long the execution took in the daemon, ms. */
  time: number;
  usage?: Usage;
}

interface Call {
  frame: string;
  sent: boolean;
  onConsole: ((line: string) => void) | undefined;
  resolve: (result: ExecutionResult) => void;
  reject: (error: Error) => void;
}

interface Reply {
  type?: unknown;
  id?: unknown;
  /** A streamed part of the reply (console lines), more to come. */
  more?: unknown;
  payload?: ExecutionResult;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

/** Connects to a daemon (ws:// or wss://) and resolves once the Duplex handshake is done. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Client> {
  const client = new Client(url, options);
  await client.ready();
  return client;
}

/**
 * Emits 'disconnect' (with the ConnectionError) when the connection drops and
 * 'reconnect' when a new one is up.
 */
export class Client extends EventEmitter {
  private ws: WebSocket | undefined;
  private readonly calls = new Map<number, Call>();
  private lastId = 0;
  private closing = false;
  private connecting: Promise<void> | undefined;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly url: string,
    private readonly options: ConnectOptions,
  ) {
    super();
  }

  /** Resolves once connected; the first attempt is not retried. */
  ready(): Promise<void> {
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Runs a script; resolves with its value, console and time, or rejects with an ExecutionError, ConnectionError or the signal's reason. */
  execute(script: Script, options: ExecuteOptions = {}): Promise<ExecutionResult> {
    if (this.closing) return Promise.reject(new ConnectionError('closed', 'the client is closed'));
    if (typeof script?.code !== 'string') return Promise.reject(new TypeError('script.code must be a string'));
    // Listened to one by one: AbortSignal.any is Node >=20.3.
    const signals = [options.signal, options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)].filter(
      (s) => s !== undefined,
    );
    const aborted = signals.find((s) => s.aborted);
    if (aborted !== undefined) return Promise.reject(aborted.reason);
    const id = ++this.lastId;
    const stream = options.onConsole === undefined ? undefined : true;
    const { code, call, caller, globals, timeout, module, typescript, usage } = script;
    const payload: ScriptParams = { code, call, caller, globals, timeout, module, typescript, usage, stream };
    return new Promise<ExecutionResult>((resolve, reject) => {
      const abort = (event: Event) =>
        this.settle(id, (call) => {
          // Sent: the daemon stops it. Its answer (1007) finds no call waiting and is dropped.
          if (call.sent && this.connected)
            this.ws?.send(JSON.stringify({ type: 'req', method: 'runtime.cancel', id: ++this.lastId, payload: { id } }));
          reject((event.target as AbortSignal).reason);
        });
      for (const signal of signals) signal.addEventListener('abort', abort, { once: true });
      const done = () => {
        for (const signal of signals) signal.removeEventListener('abort', abort);
      };
      const call: Call = {
        frame: JSON.stringify({ type: 'req', method: 'runtime.execute', id, payload }),
        sent: false,
        onConsole: options.onConsole,
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      this.calls.set(id, call);
      if (this.connected) this.send(call);
      else this.reconnect();
    });
  }

  /** Waits for the calls in flight, then closes the connection. New calls fail with 'closed'. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.calls.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    const closed = once(ws, 'close');
    ws.close(1000);
    await closed;
  }

  private send(call: Call): void {
    call.sent = true;
    this.ws?.send(call.frame);
  }

  private settle(id: number, how: (call: Call) => void): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.calls.delete(id);
    how(call);
    if (this.calls.size === 0) for (const wake of this.idle.splice(0)) wake();
  }

  private receive(data: WebSocket.RawData): void {
    let reply: Reply;
    try {
      reply = JSON.parse(data.toString()) as Reply;
    } catch {
      return;
    }
    if (reply.type !== 'rep' || typeof reply.id !== 'number') return;
    const { error, payload } = reply;
    if (reply.more === true) {
      const call = this.calls.get(reply.id);
      for (const line of payload?.console ?? []) call?.onConsole?.(String(line));
      return;
    }
    this.settle(reply.id, (call) => {
      if (error !== undefined) call.reject(new ExecutionError(error.code, error.message, error.data));
      else
        call.resolve({
          value: payload?.value,
          console: payload?.console ?? [],
          time: payload?.time ?? 0,
          ...(payload?.usage === undefined ? {} : { usage: payload.usage }),
        });
    });
  }

  /** One connection attempt: the WebSocket upgrade, then the Duplex handshake. */
  private async open(): Promise<void> {
    const headers = { ...this.options.headers, ...(this.options.secret === undefined ? {} : { 'x-runtime-secret': this.options.secret }) };
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const ws = new WebSocket(this.url, { headers, ca: this.options.ca, handshakeTimeout: timeoutMs, perMessageDeflate: false });
    let timer: NodeJS.Timeout | undefined;
    const handshake = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new ConnectionError('connect-failed', `no Duplex handshake from ${this.url} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      ws.once('unexpected-response', (_request, response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        reject(
          new ConnectionError(
            'refused',
            `${this.url} refused the connection: HTTP ${status}${status === 401 ? ' (wrong or missing secret)' : ''}`,
            status,
          ),
        );
      });
      ws.once('error', (error) => reject(new ConnectionError('connect-failed', `cannot connect to ${this.url}: ${error.message}`)));
      ws.once('close', () => reject(new ConnectionError('connect-failed', `${this.url} closed the connection during the handshake`)));
      ws.once('open', () => ws.send(DUPLEX_HANDSHAKE));
      ws.once('message', (data) => {
        if (data.toString() === DUPLEX_ACCEPT) resolve();
        else reject(new ConnectionError('connect-failed', `${this.url} answered the handshake with ${data.toString().slice(0, 100)}`));
      });
    });
    try {
      await handshake;
    } catch (error) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    ws.removeAllListeners();
    ws.on('message', (data) => this.receive(data));
    ws.on('error', () => {});
    ws.on('close', () => this.dropped(ws));
    this.ws = ws;
    for (const call of this.calls.values()) if (!call.sent) this.send(call);
  }

  /** The connection is gone: fail or keep its calls, and reconnect unless closing. */
  private dropped(ws: WebSocket): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    const lost = new ConnectionError(
      'connection-lost',
      `the connection to ${this.url} was lost before the reply; the script may or may not have run`,
    );
    for (const [id, call] of this.calls) {
      if (!call.sent) continue;
      if (this.options.resendUnanswered && !this.closing) call.sent = false;
      else this.settle(id, (c) => c.reject(lost));
    }
    if (this.closing) return;
    this.emit('disconnect', lost);
    if (this.calls.size > 0) this.reconnect();
  }

  /** Reconnects with backoff (unless already doing so); failing for good fails the calls waiting. */
  private reconnect(): void {
    if (this.connecting !== undefined || this.closing) return;
    const policy = this.options.reconnect;
    const retries = policy === false ? 0 : (policy?.retries ?? Infinity);
    const minDelayMs = policy === false ? 0 : (policy?.minDelayMs ?? 100);
    const maxDelayMs = policy === false ? 0 : (policy?.maxDelayMs ?? 5000);
    this.connecting = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.open();
          this.emit('reconnect');
          return;
        } catch (error) {
          const failure = error instanceof ConnectionError ? error : new ConnectionError('connect-failed', String(error));
          // A wrong secret stays wrong; everything else may be a daemon restarting.
          if (attempt >= retries || failure.status === 401 || this.closing || this.calls.size === 0) {
            for (const id of [...this.calls.keys()]) this.settle(id, (call) => call.reject(failure));
            return;
          }
          const backoff = Math.min(maxDelayMs, minDelayMs * 2 ** attempt);
          await delay(backoff / 2 + Math.random() * (backoff / 2));
        }
      }
    })().finally(() => (this.connecting = undefined));
  }
}
