// One run's connection to the daemon that served this page: its own WebSocket
// endpoint, Duplex framing, the secret offered as a subprotocol beside
// `javascriptd` (a browser cannot set headers, and a URL would end up in logs).
import type { ExecutionResult, Script } from 'javascriptd-client';

const DUPLEX_HANDSHAKE = 'SIMPLEX/1.0;json';
const DUPLEX_ACCEPT = '+OK';
const RUN_ID = 1;
const CANCEL_ID = 2;

/** An error reply: its code, message and what the daemon added (stack, console so far, usage). */
export interface ErrorReply {
  code: number;
  message: string;
  data?: { stack?: string; console?: string[]; usage?: ExecutionResult['usage'] };
}

export type Outcome = { ok: true; result: ExecutionResult } | { ok: false; error: ErrorReply };

export interface Run {
  readonly outcome: Promise<Outcome>;
  /** Asks the daemon to stop the run (runtime.cancel): the outcome becomes 1007 Cancelled. */
  cancel(): void;
}

/** The connection failed before any script ran: refused (wrong secret), or no daemon. */
export class ConnectionFailed extends Error {}

interface Reply {
  id?: unknown;
  more?: unknown;
  payload?: ExecutionResult;
  error?: ErrorReply;
}

/** Runs `script` with console lines streamed to onConsole as the script prints them. */
export async function run(secret: string, script: Script, onConsole: (lines: string[]) => void): Promise<Run> {
  const ws = await open(secret);
  ws.send(JSON.stringify({ type: 'req', method: 'runtime.execute', id: RUN_ID, payload: { ...script, stream: true } }));
  const outcome = new Promise<Outcome>((resolve, reject) => {
    ws.onmessage = (event: MessageEvent<string>) => {
      const reply = JSON.parse(event.data) as Reply;
      if (reply.id !== RUN_ID) return;
      if (reply.more === true) return onConsole(reply.payload?.console ?? []);
      resolve(reply.error === undefined ? { ok: true, result: reply.payload as ExecutionResult } : { ok: false, error: reply.error });
      ws.close();
    };
    ws.onclose = () =>
      reject(new ConnectionFailed('The connection to the daemon was lost before the reply: the script may or may not have run.'));
  });
  return {
    outcome,
    cancel: () => ws.send(JSON.stringify({ type: 'req', method: 'runtime.cancel', id: CANCEL_ID, payload: { id: RUN_ID } })),
  };
}

/** The daemon's WebSocket endpoint: the folder this page is in, so a proxy's path prefix is kept. */
function endpoint(): string {
  const url = new URL('.', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

function open(secret: string): Promise<WebSocket> {
  const protocols = secret === '' ? ['javascriptd'] : ['javascriptd', `javascriptd.secret.${base64url(secret)}`];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(endpoint(), protocols);
    ws.onopen = () => ws.send(DUPLEX_HANDSHAKE);
    ws.onmessage = (event: MessageEvent<string>) => {
      if (event.data !== DUPLEX_ACCEPT)
        return reject(new ConnectionFailed(`The daemon answered the handshake with ${String(event.data).slice(0, 100)}`));
      ws.onclose = null;
      resolve(ws);
    };
    // The browser hides why an upgrade failed (a 401 and no daemon look the same): /healthz tells them apart.
    ws.onclose = () => void whyRefused().then((reason) => reject(new ConnectionFailed(reason)));
  });
}

async function whyRefused(): Promise<string> {
  const health = await fetch(new URL('healthz', location.href), { cache: 'no-store' }).catch(() => undefined);
  if (health === undefined) return 'Connection refused: the daemon cannot be reached.';
  if (health.status === 503) return 'Connection refused: the daemon is shutting down.';
  return 'Connection refused: the daemon did not accept the secret (wrong or missing).';
}

/** RFC 4648 §5 base64url of the secret's UTF-8, unpadded, as the daemon reads it. */
function base64url(text: string): string {
  const binary = Array.from(new TextEncoder().encode(text), (byte) => String.fromCharCode(byte)).join('');
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
