// A real HTTP server on loopback for fetch tests, recording what it was asked.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestServer {
  origin: string;
  port: number;
  seen: Seen[];
  /** Requests whose connection closed before the response was finished. */
  aborted: string[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export async function startHttpServer(routes: Record<string, Handler>): Promise<TestServer> {
  const seen: Seen[] = [];
  const aborted: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.on('close', () => {
        if (!res.writableFinished) aborted.push(req.url ?? '');
      });
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      // A route ending in /* takes every last segment under it.
      const handler = routes[path] ?? routes[path.replace(/[^/]*$/, '*')];
      if (handler === undefined) {
        res.writeHead(404).end('no such route');
        return;
      }
      handler(req, res, body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    aborted,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * GET /gate/<name> (route '/gate/*'): held until the test calls release(name),
 * then answered 'open' (as is every later request for that name). How a script
 * waits on something the test controls, e.g. to show a console line arrived
 * while its script was still running.
 */
export class Gates {
  private readonly opened = new Set<string>();
  private readonly held = new Map<string, ServerResponse[]>();

  readonly route: Handler = (req, res) => {
    const name = (req.url ?? '').slice('/gate/'.length);
    if (this.opened.has(name)) res.end('open');
    else this.held.set(name, [...(this.held.get(name) ?? []), res]);
  };

  release(name: string): void {
    this.opened.add(name);
    for (const res of this.held.get(name) ?? []) res.end('open');
    this.held.delete(name);
  }
}
