// GET /metrics: Prometheus exposition of executions, queue, pool, connections and bytes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from './helpers/client.js';
import { type RunningDaemon, metricSample as sample, startDaemon, useDaemon } from './helpers/daemon.js';
import { until } from './helpers/poll.js';

describe('metrics', () => {
  let base: string;

  const daemon = useDaemon({ METRICS_TOKEN: 'metrics-token', POOL_SIZE: '2', MEMORY_LIMIT: '16' });
  before(async () => {
    base = daemon.url.replace('ws://', 'http://');
  });

  const scrape = async () => {
    const res = await fetch(new URL('/metrics', base), { headers: { authorization: 'Bearer metrics-token' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  };

  /** Scrapes until `series` has a sample (a sandbox reports a replaced isolate after the reply); resolves with that scrape. */
  const scrapeUntil = async (series: string) => {
    let text = '';
    await until(async () => {
      text = await scrape();
      return text.split('\n').some((line) => line.startsWith(`${series} `));
    }, `a sample of ${series}`);
    return text;
  };
  const recycled = (reason: string) => `javascriptd_isolates_recycled_total{key="default",reason="${reason}"}`;

  it('needs the token when METRICS_TOKEN is set', async () => {
    assert.equal((await fetch(new URL('/metrics', base))).status, 401);
    assert.equal((await fetch(new URL('/metrics', base), { headers: { authorization: 'Bearer wrong' } })).status, 401);
  });

  it('counts executions by outcome and code, with durations, bytes, connections, pool and recycled isolates', async () => {
    const client = await TestClient.connect(daemon.url);
    await Promise.all([
      client.execute({ code: '1' }),
      client.execute({ code: '2' }),
      client.execute({ code: 'null.x' }),
      client.execute({ code: 'x', call: 'missing' }),
    ]);
    // An isolate out of memory, and one still running after cb: both replaced inside their sandbox.
    assert.equal((await client.execute({ code: 'const a = []; while (true) a.push(new Array(100000).fill(1));' })).error?.code, 1003);
    assert.equal((await client.execute({ code: 'function f(cb) { cb(1); while (true) {} }', call: 'f', timeout: 1000 })).payload?.value, 1);
    // The still-running isolate is disposed after the reply: wait for its report before killing a sandbox.
    await scrapeUntil(recycled('still-running'));
    const [pid] = execFileSync('pgrep', ['-P', String(daemon.process.pid)])
      .toString()
      .trim()
      .split('\n')
      .map(Number);
    process.kill(pid, 'SIGKILL');
    const text = await scrapeUntil(recycled('sandbox-lost'));
    assert.equal(sample(text, 'javascriptd_executions_total{key="default",outcome="ok",code=""}'), 3);
    assert.equal(sample(text, 'javascriptd_executions_total{key="default",outcome="error",code="1000"}'), 2);
    assert.equal(sample(text, 'javascriptd_executions_total{key="default",outcome="error",code="1003"}'), 1);
    assert.equal(sample(text, 'javascriptd_execution_duration_seconds_count{key="default"}'), 6);
    assert.equal(sample(text, 'javascriptd_queue_wait_seconds_count{key="default"}'), 6);
    assert.equal(sample(text, 'javascriptd_connections'), 1);
    assert.equal(sample(text, 'javascriptd_pool_size{key="default"}'), 2);
    assert.equal(sample(text, 'javascriptd_queue_depth{key="default"}'), 0);
    for (const reason of ['sandbox-lost', 'memory-limit', 'still-running']) assert.equal(sample(text, recycled(reason)), 1, reason);
    assert.ok(sample(text, 'javascriptd_websocket_bytes_total{direction="in"}') > 100);
    assert.ok(sample(text, 'javascriptd_websocket_bytes_total{direction="out"}') > 100);
    assert.ok(sample(text, 'javascriptd_process_resident_memory_bytes') > 0);
    await client.close();
    await until(async () => sample(await scrape(), 'javascriptd_connections') === 0, 'the closed connection uncounted');
  });
});

describe('who may read /metrics', () => {
  const OFF = 'GET /metrics is off (403) until METRICS_TOKEN is set';

  /** Starts a daemon with `env`, runs `check` on it with GET /metrics (headers optional), stops it. */
  async function withDaemon(
    env: Record<string, string>,
    check: (get: (authorization?: string) => Promise<Response>, daemon: RunningDaemon) => Promise<void>,
  ) {
    const daemon = await startDaemon({ POOL_SIZE: '1', ...env });
    const url = new URL('/metrics', daemon.url.replace('ws://', 'http://'));
    try {
      await check((authorization) => fetch(url, { headers: authorization === undefined ? {} : { authorization } }), daemon);
    } finally {
      await daemon.stop();
    }
  }

  it('anyone, on a daemon without a secret (it listens on loopback)', async () => {
    await withDaemon({}, async (get, daemon) => {
      assert.equal((await get()).status, 200);
      assert.ok(!daemon.logs().some((line) => line.msg === OFF));
    });
  });

  it('nobody, while a key has a secret and METRICS_TOKEN is not set: 403 saying to set it, and one warning', async () => {
    await withDaemon({ SECRET: 'connection-secret', HOST: '127.0.0.1' }, async (get, daemon) => {
      for (const authorization of [undefined, 'Bearer connection-secret']) {
        const res = await get(authorization);
        assert.equal(res.status, 403);
        assert.equal(await res.text(), 'metrics are off: set METRICS_TOKEN to serve them\n');
      }
      assert.equal(daemon.logs().filter((line) => line.msg === OFF && line.level === 40).length, 1);
    });
  });

  it('nobody, with CONFIG keys that have secrets and no METRICS_TOKEN (their names stay private)', async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'javascriptd-metrics-')), 'keys.json');
    writeFileSync(
      config,
      JSON.stringify({ keys: { alpha: { secret: 'alpha-secret', poolSize: 1 }, beta: { secret: 'beta-secret', poolSize: 1 } } }),
    );
    await withDaemon({ CONFIG: config, HOST: '127.0.0.1' }, async (get) => {
      const res = await get();
      assert.equal(res.status, 403);
      assert.doesNotMatch(await res.text(), /alpha|beta/);
    });
  });

  it('the bearer of METRICS_TOKEN, on a daemon with a secret', async () => {
    await withDaemon({ SECRET: 'connection-secret', METRICS_TOKEN: 'metrics-token', HOST: '127.0.0.1' }, async (get, daemon) => {
      assert.equal((await get()).status, 401);
      assert.equal((await get('Bearer wrong')).status, 401);
      const res = await get('Bearer metrics-token');
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^javascriptd_connections 0$/m);
      assert.ok(!daemon.logs().some((line) => line.msg === OFF));
    });
  });
});
