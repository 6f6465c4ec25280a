// Requests with the headers a browser page sends and fetch() will not let a
// test set (Host, Origin): a WebSocket upgrade and a GET, over node:http.
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, request } from 'node:http';

export interface Answer {
  status: number;
  /** The body of a refusal; empty for 101. */
  body: string;
}

async function answer(res: IncomingMessage): Promise<Answer> {
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode ?? 0, body };
}

/** Asks the daemon at `url` (ws:// or http://) to upgrade to a WebSocket, with `headers` added: 101, or the refusal. */
export function upgrade(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.once('response', (res) => answer(res).then(resolve, reject));
    req.once('error', reject);
    req.end();
  });
}

/** GET `path` of the daemon at `url`, with `headers` added. */
export function get(url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url.replace(/^ws/, 'http')), { headers });
    req.once('response', (res) => answer(res).then(resolve, reject));
    req.once('error', reject);
    req.end();
  });
}
