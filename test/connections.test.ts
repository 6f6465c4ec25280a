// Connection bounds: a connection that has not become a WebSocket HEADER_TIMEOUT
// after its TCP connect is closed (plain and TLS), and MAX_CONNECTIONS closes
// connections past the cap as they arrive.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as connectTls } from 'node:tls';
import { TestClient, within } from './helpers/client.js';
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

/**
 * Closed by the daemon at HEADER_TIMEOUT after connecting (its timer starts when
 * it accepts): not before, and at all. How soon after is the machine's to say;
 * 10 × HEADER_TIMEOUT is far past it, and far short of Node's own 60 s headers
 * timeout. Whether a deadline was extended shows by the order of closes, against
 * a reference connected later.
 */
async function assertClosedAtDeadline(lifetime: Promise<number>, what: string): Promise<void> {
  const ms = await within(lifetime, 10 * HEADER_TIMEOUT, `${what} closed`);
  assert.ok(ms > HEADER_TIMEOUT * 0.9, `${what} was closed after ${Math.round(ms)} ms, before HEADER_TIMEOUT`);
}

/** Which of `named` connections closed first to last. */
function closingOrder(named: Record<string, Opened>): Promise<string[]> {
  const order: string[] = [];
  return Promise.all(Object.entries(named).map(([name, { lifetime }]) => lifetime.then(() => order.push(name)))).then(() => order);
}

describe('connection bounds', () => {
  describe('HEADER_TIMEOUT', () => {
    const daemon = useDaemon({ SECRET, HOST: '127.0.0.1', HEADER_TIMEOUT: String(HEADER_TIMEOUT), POOL_SIZE: '1' });

    it('closes a connection that sends nothing, or stops part-way through its headers', async () => {
      const silent = await open(daemon.port);
      const partial = await open(daemon.port);
      partial.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await assertClosedAtDeadline(silent.lifetime, 'a silent connection');
      await assertClosedAtDeadline(partial.lifetime, 'a connection with half its headers');
    });

    it('counts from the connect: trickling headers a byte at a time, even after a pause, does not extend it', async () => {
      const trickling = await open(daemon.port);
      trickle(trickling.socket, HEADERS);
      const late = await open(daemon.port);
      // The pause the title names, with a silent reference connecting half-way through it.
      // Counted from each connect, both trickling ones close before the reference; counted
      // from the first byte, the late one would close after it; reset by each byte, neither would close.
      await delay(HEADER_TIMEOUT * 0.3);
      const reference = await open(daemon.port);
      await delay(HEADER_TIMEOUT * 0.3);
      trickle(late.socket, HEADERS);
      const order = closingOrder({ trickling, late, reference });
      await assertClosedAtDeadline(trickling.lifetime, 'a trickling connection');
      await assertClosedAtDeadline(late.lifetime, 'a connection trickling after a pause');
      await assertClosedAtDeadline(reference.lifetime, 'the reference');
      assert.equal((await order).at(-1), 'reference', (await order).join(', '));
    });

    it('answers an HTTP request and closes, so a kept-alive connection cannot wait for more headers', async () => {
      // Connected first, so its deadline comes first: the kept-alive one closes before it only if the daemon closes it at once.
      const reference = await open(daemon.port);
      const keptAlive = await open(daemon.port);
      const order = closingOrder({ reference, keptAlive });
      const response = new Promise<string>((resolve) => keptAlive.socket.once('data', (data) => resolve(String(data))));
      keptAlive.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      assert.match(await response, /^HTTP\/1\.1 200 OK\r\n(?:.*\r\n)*connection: close\r\n/i);
      await assertClosedAtDeadline(reference.lifetime, 'the reference');
      assert.deepEqual(await order, ['keptAlive', 'reference']);
    });

    it('keeps a WebSocket open past it', async () => {
      const client = await TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': SECRET } });
      // Connected after the WebSocket: once the daemon has closed it, the WebSocket's deadline (were it not exempt) has passed too.
      const reference = await open(daemon.port);
      await assertClosedAtDeadline(reference.lifetime, 'a silent connection made after the WebSocket');
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
      // Stopping waits for every connection: it ends once HEADER_TIMEOUT has closed this one (without it, never).
      assert.equal(await within(daemon.stop(), 10 * HEADER_TIMEOUT, 'the daemon stopping'), 0);
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
      await assertClosedAtDeadline(silent.lifetime, 'a silent connection');
      await assertClosedAtDeadline(stalled.lifetime, 'a connection stalled in its handshake');
    });

    it('counts from the TCP connect: a late handshake, then trickled headers, do not extend it', async () => {
      const tcp = connect({ port: daemon.port, host: '127.0.0.1' });
      await once(tcp, 'connect');
      const start = performance.now();
      // The pause before the handshake, with a silent reference connecting half-way through
      // it: it closes first if the deadline were counted from the handshake or the headers.
      await delay(HEADER_TIMEOUT * 0.15);
      const reference = await open(daemon.port);
      await delay(HEADER_TIMEOUT * 0.15);
      const secure = connectTls({ socket: tcp, host: '127.0.0.1', ca: cert.pem });
      secure.on('error', () => {});
      await once(secure, 'secureConnect');
      trickle(secure, HEADERS);
      const late: Opened = { socket: tcp, lifetime: closed(secure).then(() => performance.now() - start) };
      secure.resume();
      const order = closingOrder({ late, reference });
      await assertClosedAtDeadline(late.lifetime, 'a connection with a late handshake');
      await assertClosedAtDeadline(reference.lifetime, 'the reference');
      assert.deepEqual(await order, ['late', 'reference']);
    });

    it('keeps a wss:// WebSocket open past it', async () => {
      const client = await TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': SECRET }, ca: cert.pem });
      // Connected after the WebSocket: once the daemon has closed it, the WebSocket's deadline (were it not exempt) has passed too.
      const reference = await open(daemon.port);
      await assertClosedAtDeadline(reference.lifetime, 'a silent connection made after the WebSocket');
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
      // At the cap: the next connection is closed as it arrives, before the silent one opened just before it reaches its deadline.
      const extra = await open(daemon.port);
      const order = closingOrder({ lastSilent: silent.at(-1)!, extra });
      await within(extra.lifetime, 10 * HEADER_TIMEOUT, 'the connection past the cap closed');
      await assert.rejects(TestClient.connect(daemon.url, { headers }));
      // The WebSocket inside the cap is served while the daemon is full.
      assert.equal((await client.execute({ code: '"full"' })).payload?.value, 'full');

      for (const [i, { lifetime }] of silent.entries()) await assertClosedAtDeadline(lifetime, `silent connection ${i}`);
      assert.deepEqual(await order, ['extra', 'lastSilent']);
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
