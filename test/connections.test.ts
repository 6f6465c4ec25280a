// Connection bounds: a connection that has not become a WebSocket HEADER_TIMEOUT
// after its TCP connect is closed (plain and TLS), and MAX_CONNECTIONS closes
// connections past the cap as they arrive.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as connectTls } from 'node:tls';
import { TestClient } from './helpers/client.js';
import { startDaemon, useDaemon } from './helpers/daemon.js';
import { selfSignedCert } from './helpers/tls.js';

const SECRET = 'connections-secret';
const HEADER_TIMEOUT = 1000;
const HEADERS = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(1000)}`;

interface Opened {
  socket: Socket;
  /** Resolves with the ms from connect to close. */
  lifetime: Promise<number>;
}

/** A TCP connection to the daemon that reads whatever comes, so its close is seen. */
async function open(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<Opened> {
  const socket = connect({ port, host: '127.0.0.1', ...options });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return { socket, lifetime: lifetimeOf(socket) };
}

/** Resolves when `socket` closes. Not events.once: it rejects on 'error', and a daemon cutting a trickling connection may reset it (ECONNRESET). */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function lifetimeOf(socket: Socket): Promise<number> {
  const start = performance.now();
  socket.resume();
  return closed(socket).then(() => performance.now() - start);
}

/** Writes `text` one byte every 50 ms while the socket is open. */
function trickle(socket: Socket, text: string): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || sent === text.length) clearInterval(timer);
    else socket.write(text[sent++]);
  }, 50);
}

/** Closed by the daemon about HEADER_TIMEOUT after connecting (its timer starts when it accepts). */
function assertClosedAtDeadline(ms: number, what: string): void {
  assert.ok(ms > HEADER_TIMEOUT * 0.9 && ms < HEADER_TIMEOUT + 500, `${what} was closed after ${Math.round(ms)} ms`);
}

describe('connection bounds', () => {
  describe('HEADER_TIMEOUT', () => {
    const daemon = useDaemon({ SECRET, HOST: '127.0.0.1', HEADER_TIMEOUT: String(HEADER_TIMEOUT), POOL_SIZE: '1' });

    it('closes a connection that sends nothing, or stops part-way through its headers', async () => {
      const silent = await open(daemon.port);
      const partial = await open(daemon.port);
      partial.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      assertClosedAtDeadline(await silent.lifetime, 'a silent connection');
      assertClosedAtDeadline(await partial.lifetime, 'a connection with half its headers');
    });

    it('counts from the connect: trickling headers a byte at a time, even after a pause, does not extend it', async () => {
      const trickling = await open(daemon.port);
      trickle(trickling.socket, HEADERS);
      const late = await open(daemon.port);
      setTimeout(() => trickle(late.socket, HEADERS), HEADER_TIMEOUT * 0.6);
      assertClosedAtDeadline(await trickling.lifetime, 'a trickling connection');
      assertClosedAtDeadline(await late.lifetime, 'a connection trickling after a pause');
    });

    it('answers an HTTP request and closes, so a kept-alive connection cannot wait for more headers', async () => {
      const { socket, lifetime } = await open(daemon.port);
      const response = new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      assert.match(await response, /^HTTP\/1\.1 200 OK\r\n(?:.*\r\n)*connection: close\r\n/i);
      const ms = await lifetime;
      assert.ok(ms < HEADER_TIMEOUT / 2, `closed after ${Math.round(ms)} ms`);
    });

    it('keeps a WebSocket open past it', async () => {
      const client = await TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': SECRET } });
      await delay(HEADER_TIMEOUT * 1.5);
      assert.equal((await client.execute({ code: '"still here"' })).payload?.value, 'still here');
      await client.close();
    });
  });

  it('closes a refused upgrade whose client keeps its side open, so SIGTERM still stops the daemon', async () => {
    const daemon = await startDaemon({ SECRET, HOST: '127.0.0.1', HEADER_TIMEOUT: String(HEADER_TIMEOUT), POOL_SIZE: '1' });
    try {
      const { socket } = await open(daemon.port, { allowHalfOpen: true });
      const response = new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))));
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      assert.match(await response, /^HTTP\/1\.1 401 /);
      await delay(HEADER_TIMEOUT * 1.5);
      const started = performance.now();
      assert.equal(await daemon.stop(), 0);
      assert.ok(performance.now() - started < 2000, `stopping took ${Math.round(performance.now() - started)} ms`);
      socket.destroy();
    } finally {
      await daemon.stop();
    }
  });

  describe('HEADER_TIMEOUT over TLS', () => {
    const cert = selfSignedCert();
    const daemon = useDaemon({ ...cert.env, SECRET, HOST: '127.0.0.1', HEADER_TIMEOUT: String(HEADER_TIMEOUT), POOL_SIZE: '1' });

    it('closes a connection that never starts its TLS handshake, or stops within it', async () => {
      const silent = await open(daemon.port);
      const stalled = await open(daemon.port);
      // The first bytes of a ClientHello record, and no more.
      stalled.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      assertClosedAtDeadline(await silent.lifetime, 'a silent connection');
      assertClosedAtDeadline(await stalled.lifetime, 'a connection stalled in its handshake');
    });

    it('counts from the TCP connect: a late handshake, then trickled headers, do not extend it', async () => {
      const tcp = connect({ port: daemon.port, host: '127.0.0.1' });
      await once(tcp, 'connect');
      const start = performance.now();
      await delay(HEADER_TIMEOUT * 0.6);
      const secure = connectTls({ socket: tcp, host: '127.0.0.1', ca: cert.pem });
      secure.on('error', () => {});
      await once(secure, 'secureConnect');
      trickle(secure, HEADERS);
      secure.resume();
      await closed(secure);
      assertClosedAtDeadline(performance.now() - start, 'a connection with a late handshake');
    });

    it('keeps a wss:// WebSocket open past it', async () => {
      const client = await TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': SECRET }, ca: cert.pem });
      await delay(HEADER_TIMEOUT * 1.5);
      assert.equal((await client.execute({ code: '"still here"' })).payload?.value, 'still here');
      await client.close();
    });
  });

  describe('MAX_CONNECTIONS', () => {
    const MAX = 20;
    const daemon = useDaemon({
      SECRET,
      HOST: '127.0.0.1',
      MAX_CONNECTIONS: String(MAX),
      HEADER_TIMEOUT: String(HEADER_TIMEOUT),
      POOL_SIZE: '1',
    });

    it('closes connections past the cap at once, counting WebSockets, and serves again once the silent ones are closed', async () => {
      const headers = { 'x-runtime-secret': SECRET };
      const client = await TestClient.connect(daemon.url, { headers });
      const silent: Opened[] = [];
      for (let i = 1; i < MAX; i++) silent.push(await open(daemon.port));
      // At the cap: the next connection is closed as it arrives, long before the silent ones.
      const extra = await open(daemon.port);
      const extraMs = await extra.lifetime;
      assert.ok(extraMs < HEADER_TIMEOUT / 2, `the connection past the cap was closed after ${Math.round(extraMs)} ms`);
      await assert.rejects(TestClient.connect(daemon.url, { headers }));
      // The WebSocket inside the cap is served while the daemon is full.
      assert.equal((await client.execute({ code: '"full"' })).payload?.value, 'full');

      for (const [i, { lifetime }] of silent.entries()) assertClosedAtDeadline(await lifetime, `silent connection ${i}`);
      const newcomer = await TestClient.connect(daemon.url, { headers });
      assert.equal((await newcomer.execute({ code: '"in"' })).payload?.value, 'in');
      assert.equal((await client.execute({ code: '"still in"' })).payload?.value, 'still in');
      await Promise.all([newcomer.close(), client.close()]);

      assert.equal(daemon.process.exitCode, null);
      const warnings = daemon.logs().filter((line) => line.msg === 'MAX_CONNECTIONS reached: closing new connections');
      assert.equal(warnings.length, 1, 'one warning for the two connections closed within its interval');
      assert.equal(warnings[0].maxConnections, MAX);
      assert.equal(warnings[0].level, 40);
    });
  });
});
