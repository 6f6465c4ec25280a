// A plain WebSocket peer that speaks Duplex (or raw frames) to the daemon.
import { once } from 'node:events';
import WebSocket from 'ws';

export interface Reply {
  type?: string;
  jsonrpc?: string;
  id?: unknown;
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
}

export class TestClient {
  private readonly waiting = new Map<unknown, (reply: Reply) => void>();
  private readonly unmatched: string[] = [];
  private readonly unmatchedWaiters: ((frame: string) => void)[] = [];
  private lastId = 0;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    this.closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
    ws.on('message', (data) => this.receive(data.toString()));
  }

  static async connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, { headers: options.headers, ca: options.ca });
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

  /** Sends runtime.execute over Duplex and resolves with the reply of that id. */
  execute(script: unknown, extra: Record<string, unknown> = {}): Promise<Reply> {
    const id = ++this.lastId;
    const reply = this.replyTo(id);
    this.send({ type: 'req', method: 'runtime.execute', id, payload: script, ...extra });
    return reply;
  }

  /** Resolves with the next reply carrying `id`. */
  replyTo(id: unknown): Promise<Reply> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  /** The next frame no pending request claimed. */
  next(timeoutMs = 10000): Promise<string> {
    const frame = this.unmatched.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
      this.unmatchedWaiters.push((f) => {
        clearTimeout(timer);
        resolve(f);
      });
    });
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
    let id: unknown;
    try {
      id = (JSON.parse(frame) as Reply).id;
    } catch {
      id = undefined;
    }
    const resolve = id === undefined ? undefined : this.waiting.get(id);
    if (resolve !== undefined) {
      this.waiting.delete(id);
      resolve(JSON.parse(frame) as Reply);
      return;
    }
    const waiter = this.unmatchedWaiters.shift();
    if (waiter !== undefined) waiter(frame);
    else this.unmatched.push(frame);
  }
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
