// GET /metrics: Prometheus exposition of executions, queue, pool, connections and bytes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { metricSample as sample, type RunningDaemon, startDaemon } from './helpers/daemon.js';
import { TestClient } from './helpers/client.js';

describe('metrics', () => {
  let daemon: RunningDaemon;
  let base: string;

  before(async () => {
    daemon = await startDaemon({ METRICS_TOKEN: 'metrics-token', POOL_SIZE: '2', MEMORY_LIMIT: '16' });
    base = daemon.url.replace('ws://', 'http://');
  });
  after(async () => {
    await daemon?.stop();
  });

  const scrape = async () => {
    const res = await fetch(new URL('/metrics', base), { headers: { authorization: 'Bearer metrics-token' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  };

  /** Scrapes until `series` has a sample (a sandbox reports a replaced isolate after the reply), or 5 s pass. */
  const scrapeUntil = async (series: string) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const text = await scrape();
      if (text.split('\n').some((line) => line.startsWith(`${series} `))) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return scrape();
  };
  const recycled = (reason: string) => `javascriptd_isolates_recycled_total{key="default",reason="${reason}"}`;

  it('needs the token when METRICS_TOKEN is set', async () => {
    assert.equal((await fetch(new URL('/metrics', base))).status, 401);
    assert.equal((await fetch(new URL('/metrics', base), { headers: { authorization: 'Bearer wrong' } })).status, 401);
  });

  it('counts executions by outcome and code, with durations, bytes, connections, pool and recycled isolates', async () => {
    const client = await TestClient.connect(daemon.url);
    await Promise.all([client.execute({ code: '1' }), client.execute({ code: '2' }), client.execute({ code: 'null.x' }), client.execute({ code: 'x', call: 'missing' })]);
    // An isolate out of memory, and one still running after cb: both replaced inside their sandbox.
    assert.equal((await client.execute({ code: 'const a = []; while (true) a.push(new Array(100000).fill(1));' })).error?.code, 1003);
    assert.equal((await client.execute({ code: 'function f(cb) { cb(1); while (true) {} }', call: 'f', timeout: 1000 })).payload?.value, 1);
    // The still-running isolate is disposed after the reply: wait for its report before killing a sandbox.
    await scrapeUntil(recycled('still-running'));
    const [pid] = execFileSync('pgrep', ['-P', String(daemon.process.pid)]).toString().trim().split('\n').map(Number);
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
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(sample(await scrape(), 'javascriptd_connections'), 0);
  });
});
