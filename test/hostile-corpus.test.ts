// A corpus of hostile scripts, frames and web pages' requests against a daemon
// with the default settings, while the resident memory of the daemon and its sandbox processes is
// read every 25 ms. Each case must get the coded reply listed, the daemon and
// its sandboxes must stay within their memory (RSS_LIMIT) throughout, and be alive and serving
// at the end. Cases that do not need the sandboxes to themselves run
// concurrently; the others (a latency bound, a memory bound, a full queue) run
// in turn. CORPUS_CASES=3,7 runs only those cases (the end checks still run).
import assert from 'node:assert/strict';
import { computeSlots } from '../src/compute-slots.js';
import { type Reply, type SizedReply, TestClient, within } from './helpers/client.js';
import { assertServing, executionCounts, metricSample, metricsText, type RunningDaemon, startDaemon } from './helpers/daemon.js';
import { nestedArrays } from './helpers/json-text.js';
import { until } from './helpers/poll.js';
import { get, upgrade } from './helpers/raw-http.js';
import { mib, RssSampler } from './helpers/rss.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** The defaults this corpus runs against (docs/settings.md). */
const CONSOLE_LIMIT = 262144;
const RESULT_LIMIT = 1048576;
const FETCH_MAX_REQUESTS = 20;
const MAX_UNSENT = 8 * MiB;
/** The largest reply frame an execution may cause: its result or its error, its console, and the envelope. */
const REPLY_CAP = RESULT_LIMIT + CONSOLE_LIMIT + 64 * KiB;
/** Sandboxes in tests (test/helpers/daemon.ts) and MEMORY_LIMIT's default. */
const POOL_SIZE = 2;
const MEMORY_LIMIT = 128 * MiB;
/**
 * What the daemon and its sandboxes may hold: the daemon half a GiB (about 200 MiB seen here), and each sandbox its
 * SANDBOX_MEMORY, whose default is room for every execution it computes at once to fill its MEMORY_LIMIT (src/config/read-config.ts).
 * The floods of cases 1-4 run a dozen executions of up to MEMORY_LIMIT each at once: each sandbox is held under its
 * budget by stopping the execution holding the most (1003) short of it, and by being killed past it.
 */
const RSS_LIMIT = 512 * MiB + POOL_SIZE * ((computeSlots(POOL_SIZE).computing + 1) * MEMORY_LIMIT + 128 * MiB);
/**
 * Reply bytes the daemon may queue for one connection that does not read: it
 * closes one holding over 4 × MAX_UNSENT; the kernel's socket buffers on both
 * ends of a loopback connection take up to about 10 MiB more.
 */
const QUEUED_LIMIT = 4 * MAX_UNSENT + 16 * MiB;
/** How much clients that do not read may add to the daemon's RSS: 4 connections' worth, and 64 MiB of work in passing. */
const UNREAD_GROWTH_LIMIT = 4 * QUEUED_LIMIT + 64 * MiB;
/**
 * And to daemon + sandbox RSS: as much, and the isolates of the two sandboxes
 * (POOL_SIZE=2 in tests) filling up to MEMORY_LIMIT (128 MiB by default) with
 * the results they make meanwhile (about 120 MiB of the 230–260 MiB seen here).
 */
const UNREAD_TREE_GROWTH_LIMIT = UNREAD_GROWTH_LIMIT + 2 * 128 * MiB;
const DROPPED_LINE = /^\[javascriptd: (\d+) more console lines \((\d+) bytes\) dropped past CONSOLE_LIMIT\]$/;
const ONLY = process.env.CORPUS_CASES?.split(',').map((n) => Number(n.trim()));

/** The replies of large frames are read whole, however large the daemon makes them, to be measured. */
const connect = (url: string) => TestClient.connect(url, { maxPayload: 1 * GiB });

describe('hostile corpus against the default settings, with daemon + sandbox RSS sampled', function () {
  this.timeout(120000);
  let daemon: RunningDaemon;
  let rss: RssSampler;
  const phases: { name: string; from: number; to: number }[] = [];

  before(async () => {
    daemon = await startDaemon({});
    const { pid } = daemon.process;
    assert.ok(pid !== undefined, 'the daemon has no pid');
    rss = new RssSampler(pid, 25);
  });
  after(async () => {
    rss?.stop();
    const peak = rss?.peak();
    if (peak !== undefined) {
      const byPhase = phases.map((p) => `${p.name} ${mib(rss.peak(p.from, p.to)?.total ?? 0)}`).join(', ');
      console.log(
        `      peak RSS of daemon + sandboxes: ${mib(peak.total)} at ${(peak.at / 1000).toFixed(1)} s (daemon ${mib(peak.root)}, ${peak.processes} processes); by phase: ${byPhase}`,
      );
    }
    await daemon?.stop('SIGKILL');
  });

  /** Marks the RSS samples of a phase, to report its own peak. */
  function phase(name: string): void {
    before(() => {
      phases.push({ name, from: rss.now(), to: Infinity });
    });
    after(() => {
      const current = phases.find((p) => p.name === name);
      if (current !== undefined) current.to = rss.now();
    });
  }

  /**
   * Pauses the clients (their sockets are not read, so replies pile up in the
   * daemon); `measure` then tells how much daemon + sandbox RSS grew since, and
   * how many reply bytes the daemon queued for sending meanwhile (its
   * javascriptd_websocket_bytes_total{direction="out"}, which no freed memory hides;
   * `queued` alone tells it so far).
   */
  async function stopReading(
    clients: TestClient[],
  ): Promise<{ queued(): Promise<number>; measure(): Promise<{ grown: number; daemonGrown: number; queued: number }> }> {
    const sent = async () => metricSample(await metricsText(daemon), 'javascriptd_websocket_bytes_total{direction="out"}');
    const start = rss.now();
    const baseline = rss.at(start)?.total ?? 0;
    const baselineRoot = rss.at(start)?.root ?? 0;
    const sentBefore = await sent();
    for (const client of clients) client.ws.pause();
    return {
      queued: async () => (await sent()) - sentBefore,
      async measure() {
        return {
          grown: (rss.peak(start)?.total ?? 0) - baseline,
          daemonGrown: (rss.peak(start, Infinity, 'root')?.root ?? 0) - baselineRoot,
          queued: (await sent()) - sentBefore,
        };
      },
    };
  }

  // First, on a fresh daemon: RSS freed by an earlier case is kept by the process and would hide growth here.
  describe('7. clients that stop reading', () => {
    phase('clients that stop reading');

    it('400 requests for 1 MB results to 4 paused connections: bounded RSS and bytes queued; replies coded once read again', async function () {
      if (!selected(7)) this.skip();
      const clients = await Promise.all(Array.from({ length: 4 }, () => connect(daemon.url)));
      const unread = await stopReading(clients);
      // Each reply is read whole by the client once it reads again, but only its outcome is kept.
      const outcomes = clients.map((client) =>
        Array.from({ length: 100 }, () => early(async () => summary(await client.execute({ code: '"x".repeat(1000000)' })))),
      );
      try {
        // Each connection past MAX_UNSENT, so held: nothing runs while executions wait in the queue.
        await until(
          async () => {
            const { queued, running } = await executionCounts(daemon);
            return (await unread.queued()) > 4 * MAX_UNSENT && running === 0 && queued > 0;
            // Some 50 executions of 1 MB results: seconds on a busy machine.
          },
          'the daemon holding all four connections',
          60_000,
        );
        const { grown, daemonGrown, queued } = await unread.measure();
        this.test!.title += ` (RSS grew by ${mib(grown)}, the daemon's by ${mib(daemonGrown)}, ${mib(queued)} queued)`;
        for (const client of clients) client.ws.resume();
        await checkDrained(
          clients,
          outcomes.map((o) => Promise.all(o)),
          (s) => s === 'value 1000000',
        );
        assert.ok(queued < 4 * QUEUED_LIMIT, `the daemon queued ${mib(queued)} of replies for 4 connections that did not read`);
        assert.ok(daemonGrown < UNREAD_GROWTH_LIMIT, `the daemon's RSS grew by ${mib(daemonGrown)} while the clients did not read`);
        assert.ok(grown < UNREAD_TREE_GROWTH_LIMIT, `daemon + sandbox RSS grew by ${mib(grown)} while the clients did not read`);
      } finally {
        for (const client of clients) client.ws.terminate();
      }
    });

    it('then 100 invalid frames with a 2 MB ext each on a paused connection: bounded RSS and bytes queued', async function () {
      if (!selected(7)) this.skip();
      const client = await connect(daemon.url);
      const unread = await stopReading([client]);
      const ext = JSON.stringify('e'.repeat(2 * 1000 * 1000));
      const outcomes = Array.from({ length: 100 }, (_, i) => {
        const reply = early(async () => summary(await client.replyTo(i + 1)));
        client.send(`{"type":"nope","id":${i + 1},"ext":${ext}}`);
        return reply;
      });
      try {
        // Past MAX_UNSENT the daemon reads no more of its frames.
        await until(async () => (await unread.queued()) > MAX_UNSENT, 'the daemon past MAX_UNSENT for the connection');
        const { grown, daemonGrown, queued } = await unread.measure();
        this.test!.title += ` (RSS grew by ${mib(grown)}, the daemon's by ${mib(daemonGrown)}, ${mib(queued)} queued)`;
        client.ws.resume();
        await checkDrained([client], [Promise.all(outcomes)], (s) => s === 'error -32600');
        assert.ok(queued < QUEUED_LIMIT, `the daemon queued ${mib(queued)} of replies for a connection that did not read`);
        assert.ok(daemonGrown < UNREAD_GROWTH_LIMIT, `the daemon's RSS grew by ${mib(daemonGrown)} while the client did not read`);
        assert.ok(grown < UNREAD_TREE_GROWTH_LIMIT, `daemon + sandbox RSS grew by ${mib(grown)} while the client did not read`);
      } finally {
        client.ws.terminate();
      }
    });
  });

  describe('concurrently: console, fetch, result and exception floods', () => {
    phase('floods');
    let consoleFlood: Promise<Reply> | undefined;
    let fetchFlood: Promise<Reply> | undefined;
    let hugeResult: Promise<Reply> | undefined;
    let hugeErrors: Promise<Record<string, SizedReply[]>> | undefined;

    before(async () => {
      if (selected(1))
        consoleFlood = early(async () =>
          ask(await connect(daemon.url), { code: 'for (;;) console.log("x".repeat(262144))', timeout: 8000 }),
        );
      if (selected(2)) {
        // Refused at once by the policy: each call still carries 5 MB out of the isolate.
        const code = `(async () => {
          const body = "x".repeat(5 * 1024 * 1024);
          for (let i = 0; ; i++) {
            try { await fetch("http://127.0.0.1:9/x", { method: "POST", body }); } catch (e) { if (i < 25) console.log(i, String(e && e.message)); }
          }
        })()`;
        fetchFlood = early(async () => ask(await connect(daemon.url), { code }));
      }
      if (selected(3)) hugeResult = early(async () => ask(await connect(daemon.url), { code: '"x".repeat(256 * 1024 * 1024)' }));
      if (selected(4)) {
        hugeErrors = early(async () => {
          const client = await connect(daemon.url);
          const run = (code: string) => within(client.whileOpen(client.executeSized({ code })), 60000, code);
          const [error8, error50, string8, rejected8, ...parallel] = await Promise.all([
            run('throw new Error("x".repeat(8 * 1024 * 1024))'),
            run('throw new Error("x".repeat(50 * 1024 * 1024))'),
            run('throw "x".repeat(8 * 1024 * 1024)'),
            run('Promise.reject(new Error("x".repeat(8 * 1024 * 1024)))'),
            ...Array.from({ length: 6 }, () => run('throw new Error("x".repeat(20 * 1024 * 1024))')),
          ]);
          return { error8: [error8], error50: [error50], string8: [string8], rejected8: [rejected8], parallel };
        });
      }
    });

    it('1. for (;;) console.log of 256 KiB lines, timeout 8000: 1002, keeping at most CONSOLE_LIMIT bytes and a last line counting the rest', async function () {
      if (consoleFlood === undefined) this.skip();
      const { error } = await consoleFlood;
      assert.equal(error?.code, 1002, `expected 1002, got ${brief(error)}`);
      const lines = (error.data?.console ?? []) as string[];
      assert.ok(lines.length >= 1, 'the console of a timed-out flood must still be reported, with the count of dropped lines');
      const kept = lines.slice(0, -1).reduce((sum, line) => sum + Buffer.byteLength(line), 0);
      assert.ok(kept <= CONSOLE_LIMIT, `kept ${kept} bytes of console lines, over CONSOLE_LIMIT`);
      assert.match(lines[lines.length - 1], DROPPED_LINE);
    });

    it(`2. a loop of refused 5 MB POST fetches: 1002 (or 1000), and at most FETCH_MAX_REQUESTS (${FETCH_MAX_REQUESTS}) calls, refused ones included`, async function () {
      if (fetchFlood === undefined) this.skip();
      const { error } = await fetchFlood;
      assert.ok(error?.code === 1002 || error?.code === 1000, `expected 1002 or 1000, got ${brief(error)}`);
      const lines = (error.data?.console ?? []) as string[];
      assert.match(lines[0] ?? '', /^0 fetch refused: no FETCH_ALLOW rule allows POST/, 'the first call is refused by the policy');
      const refusedByPolicy = lines.filter((line) => /no FETCH_ALLOW rule/.test(line));
      assert.ok(
        refusedByPolicy.length <= FETCH_MAX_REQUESTS,
        `${refusedByPolicy.length} calls reached the policy check:\n${lines.join('\n')}`,
      );
    });

    it('3. "x".repeat(256 MiB) as the result: 1005 with its size, not 1002', async function () {
      if (hugeResult === undefined) this.skip();
      const { error } = await hugeResult;
      assert.equal(error?.code, 1005, `expected 1005, got ${brief(error)}`);
      assert.equal(error.data?.size, 256 * MiB + 2);
      assert.equal(error.data?.limit, RESULT_LIMIT);
    });

    it(`4. thrown 8 MiB, 50 MiB and 6 × 20 MiB errors, an 8 MiB thrown string, an 8 MiB rejection: 1000 (1003 for 50 MiB), each reply under ${REPLY_CAP} bytes`, async function () {
      if (hugeErrors === undefined) this.skip();
      const replies = await hugeErrors;
      for (const [name, sized] of Object.entries(replies)) {
        for (const { reply, bytes } of sized) {
          const codes = name === 'error50' ? [1000, 1003] : [1000];
          assert.ok(codes.includes(reply.error?.code ?? 0), `${name}: expected ${codes.join(' or ')}, got ${brief(reply.error)}`);
          assert.ok(
            bytes < REPLY_CAP,
            `${name}: a reply frame of ${bytes} bytes (message ${reply.error?.message.length} chars, stack ${String(reply.error?.data?.stack).length} chars)`,
          );
        }
      }
    });
  });

  describe('8. one execution reaching the next, each sandbox to itself', () => {
    phase('one execution reaching the next');

    // Whether V8 queues the callback at all is V8's choice: under isolated-vm 7 none was seen to run, even in A's own
    // later calls after 160 MB of garbage. This guards the day one does: its 3 s loop must never reach another execution.
    it('a FinalizationRegistry callback looping 3 s, queued by execution A, does not hold up the next executions: each answered before it could end', async function () {
      if (!selected(8)) this.skip();
      const [a, b] = await Promise.all([connect(daemon.url), connect(daemon.url)]);
      // Registered objects die at once; the garbage after them makes V8 collect them and queue the callback.
      const register = `function a(cb) {
        const registry = new FinalizationRegistry(() => { const end = Date.now() + 3000; while (Date.now() < end) {} });
        for (let i = 0; i < 10000; i++) registry.register({ i }, i);
        globalThis.registry = registry;
        for (let i = 0; i < 200; i++) new Array(100000).fill(i);
        cb("registered");
      }`;
      // Two at once: one on each sandbox.
      const registered = await Promise.all([ask(a, { code: register, call: 'a' }), ask(b, { code: register, call: 'a' })]);
      assert.deepEqual(
        registered.map((r) => r.payload?.value ?? brief(r.error)),
        ['registered', 'registered'],
      );
      for (let round = 0; round < 3; round++) {
        const next = await Promise.all(
          [a, b].map((client) => timed(ask(client, { code: 'function b(cb) { setTimeout(() => cb(1), 20); }', call: 'b' }))),
        );
        for (const { value: reply, ms } of next) {
          assert.equal(reply.payload?.value, 1, `round ${round}: expected 1, got ${brief(reply.error)}`);
          assert.ok(ms < 3000, `round ${round}: answered after ${Math.round(ms)} ms, as if behind the callback's loop`);
        }
      }
      await Promise.all([a.close(), b.close()]);
    });

    it('250,000 Symbol.for registrations, then 80 MB allocated, then 300,000 more registrations: all succeed, on both sandboxes', async function () {
      if (!selected(8)) this.skip();
      const clients = await Promise.all([connect(daemon.url), connect(daemon.url)]);
      const onBoth = (code: string) => Promise.all(clients.map((client) => ask(client, { code })));
      const values = (replies: Reply[]) => replies.map((r) => r.payload?.value ?? brief(r.error));
      assert.deepEqual(values(await onBoth('for (let i = 0; i < 250000; i++) Symbol.for("corpus-a-" + i); "registered"')), [
        'registered',
        'registered',
      ]);
      assert.deepEqual(
        values(await onBoth('const a = []; for (let i = 0; i < 10; i++) a.push(new Array(1e6).fill(i + 0.5)); a.length')),
        [10, 10],
      );
      assert.deepEqual(values(await onBoth('for (let i = 0; i < 300000; i++) Symbol.for("corpus-b-" + i); "registered"')), [
        'registered',
        'registered',
      ]);
      await Promise.all(clients.map((c) => c.close()));
    });
  });

  describe('9. the queue shared between clients', () => {
    phase('a full queue');

    it('one client filling the queue from 11 connections × 100 busy loops does not lock out another client: its 1+1 gets 2, not 1004', async function () {
      if (!selected(9)) this.skip();
      const flooders = await Promise.all(Array.from({ length: 11 }, () => connect(daemon.url)));
      const light = await connect(daemon.url);
      const codes: number[] = [];
      // A time limit of 500 ms instead of TIMEOUT's 3 s keeps the wait for a turn short; the queue fills all the same.
      for (const client of flooders) {
        for (let i = 0; i < 100; i++)
          early(async () => codes.push((await client.execute({ code: 'for (;;) {}', timeout: 500 })).error?.code ?? 0));
      }
      try {
        // 1,100 loops, 2 running and QUEUE_LIMIT 1,000 waiting: about 98 are refused at once.
        await until(() => codes.filter((c) => c === 1004).length >= 90, 'the queue filling up');
        const reply = await ask(light, { code: '1+1' }, 30000);
        assert.equal(reply.payload?.value, 2, `expected 2, got ${brief(reply.error)}`);
        const uncoded = codes.filter((c) => c !== 1002 && c !== 1004);
        assert.deepEqual(uncoded, [], 'the busy loops get 1002 or 1004');
      } finally {
        // Their queued loops go with them.
        for (const client of [...flooders, light]) client.ws.terminate();
      }
    });
  });

  describe('concurrently: frames nested past MAX_DEPTH', () => {
    phase('deep frames');
    let deepGlobals: Promise<{ deep: Reply[]; loop: Reply | Error }> | undefined;
    let deepExt: Promise<Reply[]> | undefined;

    before(() => {
      if (selected(5)) {
        deepGlobals = early(async () => {
          const client = await connect(daemon.url);
          const frame = (id: number) =>
            `{"type":"req","method":"runtime.execute","id":${id},"payload":{"code":"function f(cb) { for (;;) {} }","call":"f","globals":{"deep":${nestedArrays(6000, '0')}}}}`;
          // Ids of their own, apart from the ones execute() counts from 1.
          const deep = [client.replyTo(101), client.replyTo(102)];
          client.send(frame(101));
          client.send(frame(102));
          return {
            deep: await within(client.whileOpen(Promise.all(deep)), 20000, 'the replies to globals 6,000 levels deep'),
            // Kept as an error, so that the replies above are still checked if the daemon is gone by now.
            loop: await ask(client, { code: 'function f(cb) { for (;;) {} }', call: 'f' }, 20000).catch((error: Error) => error),
          };
        });
      }
      if (selected(6)) {
        deepExt = early(async () => {
          const client = await connect(daemon.url);
          const ext = nestedArrays(5000);
          const replies = [client.replyTo(101), client.replyTo(102)];
          client.send(`{"type":"nope","id":101,"ext":${ext}}`);
          client.send(`{"type":"req","method":"runtime.execute","id":102,"payload":{"code":"1"},"ext":${ext}}`);
          return within(client.whileOpen(Promise.all(replies)), 20000, 'the replies to an ext 5,000 levels deep');
        });
      }
    });

    it('5. globals 6,000 levels deep, twice: -32600 naming MAX_DEPTH; then a busy loop: 1002, and the daemon serves on', async function () {
      if (deepGlobals === undefined) this.skip();
      const { deep, loop } = await deepGlobals;
      for (const reply of deep) {
        assert.equal(reply.error?.code, -32600, `expected -32600, got ${brief(reply.error)}`);
        assert.equal(reply.error.message, 'Invalid request');
        assert.match(String(reply.error.data?.detail), /MAX_DEPTH/);
      }
      if (loop instanceof Error) throw loop;
      assert.equal(loop.error?.code, 1002, `expected 1002, got ${brief(loop.error)}`);
      await assertServing(daemon);
    });

    it('6. an ext 5,000 levels deep, on an invalid frame and on a valid request: -32600 naming MAX_DEPTH', async function () {
      if (deepExt === undefined) this.skip();
      for (const reply of await deepExt) {
        assert.equal(reply.error?.code, -32600, `expected -32600, got ${brief(reply.error)}`);
        assert.equal(reply.error.message, 'Invalid request');
        assert.match(String(reply.error.data?.detail), /MAX_DEPTH/);
      }
      await assertServing(daemon);
    });
  });

  describe("10. what a web page in the operator's browser sends to the daemon, which has no secret", () => {
    it('10. a cross-site WebSocket (Origin https://evil.example, Origin null) and a rebound Host (evil.example) on the WebSocket, /metrics and /healthz: 403 each', async function () {
      if (!selected(10)) this.skip();
      const host = `evil.example:${daemon.port}`;
      const answers = await Promise.all([
        upgrade(daemon.url, { origin: 'https://evil.example' }),
        upgrade(daemon.url, { origin: 'null' }),
        upgrade(daemon.url, { host, origin: `http://${host}` }),
        get(daemon.url, '/metrics', { host }),
        get(daemon.url, '/healthz', { host }),
      ]);
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [403, 403, 403, 403, 403],
      );
    });
  });

  describe('at the end', () => {
    it(`kept daemon + sandbox RSS under ${mib(RSS_LIMIT)} throughout`, () => {
      const peak = rss.peak();
      assert.ok(peak !== undefined, 'no RSS reading of the daemon');
      assert.ok(
        peak.total < RSS_LIMIT,
        `peak ${mib(peak.total)} at ${(peak.at / 1000).toFixed(1)} s (daemon ${mib(peak.root)}, ${peak.processes} processes)`,
      );
    });

    it('is still alive and serving', async () => {
      await assertServing(daemon);
    });
  });
});

/** Runs a script; fails as soon as the connection drops, and after `ms` at most. */
function ask(client: TestClient, script: Record<string, unknown>, ms = 60000): Promise<Reply> {
  return within(client.whileOpen(client.execute(script)), ms, `the reply to ${JSON.stringify(script).slice(0, 60)}`);
}

function selected(n: number): boolean {
  return ONLY === undefined || ONLY.includes(n);
}

/** Starts work now, for an `it` that awaits it later; meanwhile its rejection is not unhandled. */
function early<T>(run: () => Promise<T>): Promise<T> {
  const promise = run();
  promise.catch(() => undefined);
  return promise;
}

/** An execution's outcome in a few characters: "value <length>" for a string value, "error <code>" otherwise. */
function summary(reply: Reply): string {
  if (reply.error !== undefined) return `error ${reply.error.code}`;
  const value = reply.payload?.value;
  return typeof value === 'string' ? `value ${value.length}` : `value ${JSON.stringify(value)}`;
}

/**
 * After paused clients read again: each either gets every reply, each one
 * `expected` or coded Busy, or is closed by the daemon with 1008 and a reason.
 */
async function checkDrained(clients: TestClient[], outcomes: Promise<string[]>[], expected: (summary: string) => boolean): Promise<void> {
  await Promise.all(
    clients.map(async (client, i) => {
      const settled = await within(Promise.race([outcomes[i], client.closed]), 60000, `connection ${i} after it read again`);
      if (Array.isArray(settled)) {
        const unexpected = settled.filter((s) => !expected(s) && s !== 'error 1004');
        assert.deepEqual(unexpected, [], `connection ${i}: unexpected replies`);
      } else {
        assert.equal(settled.code, 1008, `connection ${i} closed with ${settled.code} "${settled.reason}"`);
        assert.ok(settled.reason.length > 0, `connection ${i} closed with 1008 and no reason`);
      }
      client.ws.terminate();
    }),
  );
}

function brief(error: Reply['error']): string {
  return error === undefined ? 'a success' : `${error.code} ${error.message.slice(0, 100)} ${JSON.stringify(error.data)?.slice(0, 300)}`;
}

async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - started };
}
