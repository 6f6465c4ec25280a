// The shared secret, TLS, what listens where, and what never leaks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { TestClient } from './helpers/client.js';
import { startDaemon, useDaemon } from './helpers/daemon.js';
import { selfSignedCert } from './helpers/tls.js';

const SECRET = 's3cr3t-value-that-must-not-leak';

/** Resolves with the HTTP status of a refused upgrade, or 101 if it was accepted. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', (err) => {
      if (!String(err.message).startsWith('Unexpected server response')) reject(err);
    });
  });
}

describe('security', () => {
  describe('with SECRET', () => {
    const daemon = useDaemon({ SECRET, HOST: '127.0.0.1' });

    it('refuses an upgrade without the header with HTTP 401, before any WebSocket exists', async () => {
      assert.equal(await upgradeStatus(daemon.url), 401);
    });

    it('refuses a wrong secret, including one of another length, with 401', async () => {
      assert.equal(await upgradeStatus(daemon.url, { 'x-runtime-secret': 'wrong' }), 401);
      assert.equal(await upgradeStatus(daemon.url, { 'x-runtime-secret': `${SECRET}x` }), 401);
      assert.equal(await upgradeStatus(daemon.url, { 'x-runtime-secret': '' }), 401);
    });

    it('serves a client with the right secret', async () => {
      const client = await TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': SECRET } });
      assert.equal((await client.execute({ code: '"in"' })).payload?.value, 'in');
      await client.close();
    });

    it('accepts the secret as Authorization: Bearer, from a ws client', async () => {
      const client = await TestClient.connect(daemon.url, { headers: { authorization: `Bearer ${SECRET}` } });
      assert.equal((await client.execute({ code: '"bearer"' })).payload?.value, 'bearer');
      await client.close();
      assert.equal(await upgradeStatus(daemon.url, { authorization: 'Bearer wrong' }), 401);
      assert.equal(await upgradeStatus(daemon.url, { authorization: `Basic ${SECRET}` }), 401);
    });

    it("accepts the secret as a javascriptd.secret. subprotocol, from Node's browser-compatible WebSocket, and answers with the javascriptd subprotocol", async () => {
      const protocols = ['javascriptd', `javascriptd.secret.${Buffer.from(SECRET).toString('base64url')}`];
      const ws = new globalThis.WebSocket(daemon.url, protocols);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('refused'));
      });
      assert.equal(ws.protocol, 'javascriptd');
      ws.send('SIMPLEX/1.0;json');
      const replies: string[] = [];
      const value = new Promise<unknown>((resolve) => {
        ws.onmessage = (event) => {
          replies.push(String(event.data));
          if (replies.length === 2) resolve((JSON.parse(replies[1]) as { payload: { value: unknown } }).payload.value);
        };
      });
      ws.send(JSON.stringify({ type: 'req', method: 'runtime.execute', id: 1, payload: { code: '"subprotocol"' } }));
      assert.equal(await value, 'subprotocol');
      ws.close();
      const wrong = new globalThis.WebSocket(daemon.url, [
        'javascriptd',
        `javascriptd.secret.${Buffer.from('wrong').toString('base64url')}`,
      ]);
      assert.equal(await new Promise((resolve) => (wrong.onerror = () => resolve('refused'))), 'refused');
    });

    it('refuses secrets that differ, and never takes one from the URL', async () => {
      assert.equal(await upgradeStatus(daemon.url, { 'x-runtime-secret': SECRET, authorization: 'Bearer other' }), 401);
      assert.equal(await upgradeStatus(`${daemon.url}?secret=${SECRET}`), 401);
      assert.equal(await upgradeStatus(`${daemon.url}?x-runtime-secret=${SECRET}`), 401);
      assert.equal(await upgradeStatus(daemon.url, { 'x-runtime-secret': SECRET, authorization: `Bearer ${SECRET}` }), 101);
    });

    it('keeps /healthz open for probes', async () => {
      const res = await fetch(new URL('/healthz', daemon.url.replace('ws://', 'http://')));
      assert.equal(res.status, 200);
    });

    it('never shows the secret to scripts, in replies or in logs', async () => {
      const client = await TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': SECRET } });
      const reply = await client.execute({
        code: 'console.log(typeof process, typeof SECRET); function h(cb) { throw new Error("boom"); }',
        call: 'h',
      });
      assert.equal(reply.error?.code, 1000);
      assert.deepEqual(reply.error?.data?.console, ['undefined undefined'], 'neither process nor the secret is a global');
      assert.doesNotMatch(JSON.stringify(reply), new RegExp(SECRET));
      await client.close();
      await upgradeStatus(daemon.url, { 'x-runtime-secret': 'wrong' });
      assert.ok(daemon.output.length > 3);
      assert.doesNotMatch(daemon.output.join('\n'), new RegExp(SECRET));
    });

    it('does not hand its environment to the sandbox processes', () => {
      const sandboxes = execFileSync('pgrep', ['-P', String(daemon.process.pid)])
        .toString()
        .trim()
        .split('\n');
      assert.equal(sandboxes.length, 2);
      for (const pid of sandboxes) {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        assert.doesNotMatch(environ + cmdline, new RegExp(SECRET));
      }
    });
  });

  describe('without SECRET', () => {
    it('listens on loopback only and says so', async () => {
      const daemon = await startDaemon();
      try {
        assert.match(daemon.url, /^ws:\/\/127\.0\.0\.1:\d+\/$/);
        const warning = daemon.logs().find((line) => line.level === 40);
        assert.equal(warning?.msg, 'no SECRET is set: listening on loopback only (set HOST to listen elsewhere)');
      } finally {
        await daemon.stop();
      }
    });

    it('warns loudly when HOST opens it to the network without a secret', async () => {
      const daemon = await startDaemon({ HOST: '0.0.0.0' });
      try {
        assert.ok(daemon.logs().some((line) => line.msg === 'no SECRET is set: anyone who can reach this address can run code'));
      } finally {
        await daemon.stop();
      }
    });
  });

  describe('TLS', () => {
    it('serves wss:// with TLS_CERT and TLS_KEY', async () => {
      const cert = selfSignedCert();
      const daemon = await startDaemon({ ...cert.env, SECRET, HOST: '127.0.0.1' });
      try {
        assert.match(daemon.url, /^wss:\/\//);
        const client = await TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': SECRET }, ca: cert.pem });
        assert.equal((await client.execute({ code: '"over tls"' })).payload?.value, 'over tls');
        await client.close();
        await assert.rejects(TestClient.connect(daemon.url.replace('wss://', 'ws://'), { headers: { 'x-runtime-secret': SECRET } }));
      } finally {
        await daemon.stop();
      }
    });
  });
});
