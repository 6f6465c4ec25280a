// A plain WebSocket peer that speaks Duplex (or raw frames) to the daemon.
import { once } from 'node:events';
import WebSocket from 'ws';

export interface Reply {
  type?: string;
  jsonrpc?: string;
  id?: unknown;
  more?: boolean;
  method?: string;
  params?: { id?: unknown; console?: string[] };
  payload?: { value: unknown; console: string[]; time: number };
  result?: { value: unknown; console: string[]; time: number };
  error?: { code: number; message: string; data?: Record<string, unknown> };
  ext?: unknown;
}

export interface ConnectOptions {
  headers?: Record<string, string>;
  /** false: send no handshake. */
  handshake?: string | false;
  ca?: string;
  /** Largest frame this client accepts, bytes (ws's default is 100 MiB). */
  maxPayload?: number;
}

/** A reply and the size of the frame it came in, bytes. */
export interface SizedReply {
  reply: Reply;
  bytes: number;
}

export class TestClient {
  private readonly waiting = new Map<unknown, (sized: SizedReply) => void>();
  private readonly unmatched: string[] = [];
  private readonly unmatchedWaiters: { resolve: (frame: string) => void; reject: (error: Error) => void }[] = [];
  private lastId = 0;
  private isClosed = false;
  /** Resolves (never rejects) when the connection has closed, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The last error the WebSocket reported (it closes after one). */
  error: Error | undefined;
  /** Console lines streamed ahead of replies (Duplex more:true, or runtime.console notifications), with when they came. */
  readonly streamed: { id: unknown; lines: string[]; at: number }[] = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.isClosed = true;
        for (const waiter of this.unmatchedWaiters.splice(0)) waiter.reject(new Error(`connection closed (${code} ${String(reason)})`));
        resolve({ code, reason: String(reason) });
      }),
    );
    ws.on('error', (error) => (this.error = error));
    ws.on('message', (data) => this.receive(data.toString()));
  }

  static async connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, { headers: options.headers, ca: options.ca, maxPayload: options.maxPayload });
    const client = new TestClient(ws);
    await once(ws, 'open');
    const handshake = options.handshake ?? 'SIMPLEX/1.0;json';
    if (handshake !== false) {
      ws.send(handshake);
      if (handshake === 'SIMPLEX/1.0;json') {
        const answer = await client.next();
        if (answer !== '+OK') throw new Error(`handshake answered ${answer}`);
      }
    }
    return client;
  }

  send(frame: string | object): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends bytes as they are, in a text frame (even if they are not UTF-8) or a binary one. */
  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Sends runtime.execute over Duplex and resolves with the reply of that id. */
  async execute(script: unknown, extra: Record<string, unknown> = {}): Promise<Reply> {
    return (await this.executeSized(script, extra)).reply;
  }

  /** execute, also telling how large the reply frame was. */
  executeSized(script: unknown, extra: Record<string, unknown> = {}): Promise<SizedReply> {
    const id = ++this.lastId;
    const reply = this.sizedReplyTo(id);
    this.send({ type: 'req', method: 'runtime.execute', id, payload: script, ...extra });
    return reply;
  }

  /** Resolves with the next reply carrying `id`. */
  async replyTo(id: unknown): Promise<Reply> {
    return (await this.sizedReplyTo(id)).reply;
  }

  sizedReplyTo(id: unknown): Promise<SizedReply> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  /** The next frame no pending request claimed; rejects after `timeoutMs`, or once the connection has closed. */
  next(timeoutMs = 10000): Promise<string> {
    const frame = this.unmatched.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f: string) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.unmatchedWaiters.splice(this.unmatchedWaiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.unmatchedWaiters.push(waiter);
    });
  }

  /**
   * Frames no pending request claimed, as they arrive: until `enough(frames)` holds and
   * then nothing more comes for `quietMs`, or `timeoutMs` has passed, or the connection closed.
   */
  async collect(enough: (frames: string[]) => boolean, quietMs: number, timeoutMs: number): Promise<string[]> {
    const frames: string[] = [];
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return frames;
      try {
        frames.push(await this.next(enough(frames) ? Math.min(quietMs, left) : left));
      } catch {
        return frames; // quiet, out of time, or closed
      }
    }
  }

  /** `promise`, or a rejection as soon as the connection closes before it settles. */
  whileOpen<T>(promise: Promise<T>): Promise<T> {
    const lost = this.closed.then(({ code, reason }) => {
      throw new Error(`the connection closed (${code} "${reason}") first`);
    });
    lost.catch(() => undefined);
    return Promise.race([promise, lost]);
  }

  /** Resolves true if no unclaimed frame arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }

  private receive(frame: string): void {
    let reply: Reply | undefined;
    try {
      reply = JSON.parse(frame) as Reply;
    } catch {
      reply = undefined;
    }
    if (reply?.more === true || reply?.method === 'runtime.console') {
      const lines = reply.more === true ? (reply.payload?.console ?? []) : (reply.params?.console ?? []);
      this.streamed.push({ id: reply.more === true ? reply.id : reply.params?.id, lines, at: performance.now() });
      return;
    }
    const id = reply?.id;
    const resolve = id === undefined ? undefined : this.waiting.get(id);
    if (resolve !== undefined) {
      this.waiting.delete(id);
      resolve({ reply: reply as Reply, bytes: Buffer.byteLength(frame) });
      return;
    }
    const waiter = this.unmatchedWaiters.shift();
    if (waiter !== undefined) waiter.resolve(frame);
    else this.unmatched.push(frame);
  }
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Runs one script on a new connection and closes it. */
export async function executeOnce(url: string, script: unknown): Promise<Reply> {
  const client = await TestClient.connect(url);
  try {
    return await client.execute(script);
  } finally {
    await client.close();
  }
}
