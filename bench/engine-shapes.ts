// Step 14's engine decision, measured with isolated-vm directly (no daemon):
//   A (step 8's): many executions side by side in ONE isolate, a fresh context each.
//   B (step 14 chose it): a pool of warm isolates, each running ONE execution at a time
//     in a fresh context; every call asynchronous, so a busy isolate holds a
//     pool thread, never this process's main thread.
// The prelude is a minimal stand-in (a console-ish global and a `cb` that
// reports the result through a host callback), not the real dist/prelude.js:
// the real one's setup/enter protocol belongs to executor/warm-isolate.ts, and the
// shapes differ in isolates and threads, not in what the prelude does.
// Memory is measured in child processes (this file, forked), so each shape's
// RSS growth starts from a clean process.
// Run: npm run bench:shapes (node --no-node-snapshot dist/bench/engine-shapes.js).
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import ivm from 'isolated-vm';

const ROUNDS = 3;
const HELLO_RUNS = 300;
/** Hello worlds in flight at once for the last asynchronous row (A: in one isolate; B: one per isolate): more than cores. */
const IN_FLIGHT = 8;
const SPINNERS = 2 * availableParallelism();
const SPIN_MS = 1000;
const LIGHT_CALLS = 60;
/** A round of light calls beside spinners stops after this long (A's light calls wait for spinners). */
const LIGHT_BUDGET_MS = 6000;
const SLEEPERS = 256;
const BOMB_NEIGHBOURS = 20;
const MEMORY_LIMIT_MB = 64;

const PRELUDE = `(function setup(report) {
  const lines = [];
  globalThis.console = { log: (...args) => { lines.push(args.map(String).join(' ')); } };
  globalThis.cb = (value) => report(JSON.stringify({ value, console: lines }));
})`;
const HELLO = `console.log('hello'); cb('hello world');`;
const SPIN = `const end = Date.now() + ${SPIN_MS}; while (Date.now() < end);`;
const SLEEP = `globalThis.waiting = new Promise((resolve) => { globalThis.wake = resolve; }); globalThis.waiting.then(() => cb('woke'));`;
const BOMB = `const hog = []; for (;;) hog.push(new Array(1e5).fill({}));`;

/** An isolate with the prelude and the bench's scripts compiled once, as a sandbox keeps them. */
class Warm {
  readonly isolate = new ivm.Isolate({ memoryLimit: MEMORY_LIMIT_MB });
  readonly prelude = this.isolate.compileScriptSync(PRELUDE);
  readonly scripts = new Map<string, ivm.Script>();

  script(code: string): ivm.Script {
    const script = this.scripts.get(code) ?? this.isolate.compileScriptSync(code);
    this.scripts.set(code, script);
    return script;
  }
}

/** One execution: a fresh context, the prelude's setup, the script; resolves with what it passed to cb. */
async function execute(warm: Warm, code: string, sync: boolean, keep?: ivm.Context[]): Promise<string | undefined> {
  const { promise, resolve } = Promise.withResolvers<string>();
  const report = new ivm.Callback((json: string) => resolve(json));
  const context = sync ? warm.isolate.createContextSync() : await warm.isolate.createContext();
  try {
    const script = warm.script(code);
    if (sync) {
      const setup = warm.prelude.runSync(context, { reference: true }) as ivm.Reference;
      setup.applySync(undefined, [report]);
      setup.release();
      script.runSync(context, { timeout: 10_000 });
    } else {
      const setup = (await warm.prelude.run(context, { reference: true })) as ivm.Reference;
      await setup.apply(undefined, [report]);
      setup.release();
      await script.run(context, { timeout: 10_000 });
    }
    if (keep !== undefined) {
      keep.push(context);
      return undefined;
    }
    return code === HELLO ? await promise : 'done';
  } finally {
    if (keep === undefined) context.release();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? Number.NaN;
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** Wall and process CPU per hello world, HELLO_RUNS of them with `inFlight` at once over `warms` (A: one isolate; B: one each). */
async function helloCost(warms: Warm[], sync: boolean, inFlight: number): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  if (sync) {
    for (let i = 0; i < HELLO_RUNS; i++) await execute(warms[0] as Warm, HELLO, true);
  } else {
    let next = 0;
    const lane = async (warm: Warm) => {
      while (next++ < HELLO_RUNS) await execute(warm, HELLO, false);
    };
    await Promise.all(Array.from({ length: inFlight }, (_, i) => lane(warms[i % warms.length] as Warm)));
  }
  const wall = ms(start);
  const { user, system } = process.cpuUsage(cpu0);
  return { wall: wall / HELLO_RUNS, cpu: (user + system) / 1000 / HELLO_RUNS };
}

/** Latencies of light calls made one after another while SPINNERS executions spin (each restarted as it ends). */
async function lightBesideSpinners(light: Warm, spinners: Warm[]): Promise<number[]> {
  let spinning = true;
  const spin = async (warm: Warm) => {
    while (spinning) await execute(warm, SPIN, false);
  };
  const all = Array.from({ length: SPINNERS }, (_, i) => spin(spinners[i % spinners.length] as Warm));
  await new Promise((r) => setTimeout(r, 100));
  const latencies: number[] = [];
  const until = Date.now() + LIGHT_BUDGET_MS;
  while (latencies.length < LIGHT_CALLS && Date.now() < until) {
    const start = process.hrtime.bigint();
    await execute(light, HELLO, false);
    latencies.push(ms(start));
    await new Promise((r) => setTimeout(r, 10));
  }
  spinning = false;
  await Promise.all(all);
  return latencies;
}

/** In a child: RSS growth (bytes) for SLEEPERS waiting executions, or SLEEPERS idle warm isolates. */
async function memoryChild(what: 'A' | 'B' | 'idle'): Promise<number> {
  const warms: Warm[] = [];
  const contexts: ivm.Context[] = [];
  // The first isolate and the code paths' first use are not what is being measured.
  const base = new Warm();
  await execute(base, SLEEP, false, contexts);
  const before = process.memoryUsage().rss;
  for (let i = 0; i < SLEEPERS; i++) {
    const warm = what === 'A' ? base : new Warm();
    warms.push(warm);
    if (what === 'idle') {
      const context = await warm.isolate.createContext();
      await warm.prelude.run(context);
      contexts.push(context);
    } else await execute(warm, SLEEP, false, contexts);
  }
  return process.memoryUsage().rss - before;
}

/** In a child: one execution runs its isolate out of memory; how many of BOMB_NEIGHBOURS waiting beside it are lost. */
async function bombChild(shape: 'A' | 'B'): Promise<number> {
  const shared = new Warm();
  const bomber = shape === 'A' ? shared : new Warm();
  const neighbours = Array.from({ length: BOMB_NEIGHBOURS }, () => (shape === 'A' ? shared : new Warm()));
  const contexts: ivm.Context[] = [];
  for (const warm of neighbours) await execute(warm, SLEEP, false, contexts);
  await execute(bomber, BOMB, false).catch(() => undefined);
  if (!bomber.isolate.isDisposed) throw new Error('the memory bomb did not bring its isolate down');
  let lost = 0;
  for (const context of contexts) {
    // A neighbour still alive can be woken, and answers.
    const woke = await context.eval('wake(); 1').then(
      () => true,
      () => false,
    );
    if (!woke) lost++;
  }
  return lost;
}

function inChild(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, args, { execArgv: ['--no-node-snapshot'] });
    child.once('message', (value) => resolve(Number(value)));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`child ${args.join(' ')} exited ${code}`))));
  });
}

async function roundsOf(f: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < ROUNDS; i++) values.push(await f());
  return median(values);
}

async function main(): Promise<void> {
  const rows: [string, string, string][] = [];
  const fmt = (n: number, digits = 2) => n.toFixed(digits);

  // 1. Hello world per execution.
  const a = new Warm();
  const pool = Array.from({ length: IN_FLIGHT }, () => new Warm());
  for (const [sync, inFlight] of [
    [true, 1],
    [false, 1],
    [false, availableParallelism()],
    [false, IN_FLIGHT],
  ] as const) {
    const runsA: { wall: number; cpu: number }[] = [];
    const runsB: { wall: number; cpu: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      runsA.push(await helloCost([a], sync, inFlight));
      runsB.push(await helloCost(pool, sync, inFlight));
    }
    const how = `${sync ? 'sync' : 'async'} calls, ${inFlight === 1 ? 'one at a time' : `${inFlight} in flight`}`;
    rows.push([
      `Hello world, ${how}: wall ms / execution`,
      fmt(median(runsA.map((r) => r.wall)), 3),
      fmt(median(runsB.map((r) => r.wall)), 3),
    ]);
    rows.push([
      `Hello world, ${how}: process CPU ms / execution`,
      fmt(median(runsA.map((r) => r.cpu)), 3),
      fmt(median(runsB.map((r) => r.cpu)), 3),
    ]);
  }

  // 2. A light call beside busy loops.
  const spinnersB = Array.from({ length: SPINNERS }, () => new Warm());
  const light: Record<'A' | 'B', number[][]> = { A: [], B: [] };
  for (let i = 0; i < ROUNDS; i++) {
    light.A.push(await lightBesideSpinners(a, [a]));
    light.B.push(await lightBesideSpinners(pool[0] as Warm, spinnersB));
  }
  const stat = (runs: number[][], f: (xs: number[]) => number) => median(runs.map(f));
  const label = `Light call beside ${SPINNERS} executions in ${SPIN_MS} ms busy loops`;
  rows.push([
    `${label}: calls made (of ${LIGHT_CALLS}, ${LIGHT_BUDGET_MS / 1000} s budget)`,
    `${stat(light.A, (xs) => xs.length)}`,
    `${stat(light.B, (xs) => xs.length)}`,
  ]);
  for (const [name, f] of [
    ['p50', (xs: number[]) => percentile(xs, 50)],
    ['p99', (xs: number[]) => percentile(xs, 99)],
    ['max', (xs: number[]) => Math.max(...xs)],
  ] as const) {
    rows.push([`${label}: ${name} ms`, fmt(stat(light.A, f), 1), fmt(stat(light.B, f), 1)]);
  }
  for (const warm of [a, ...pool, ...spinnersB]) warm.isolate.dispose();

  // 3. Memory, each measurement in a fresh child process.
  const perSleeper = async (what: 'A' | 'B' | 'idle') => (await roundsOf(() => inChild(['memory', what]))) / SLEEPERS / 1024;
  rows.push([`RSS growth per waiting execution (${SLEEPERS}), KiB`, fmt(await perSleeper('A'), 0), fmt(await perSleeper('B'), 0)]);
  rows.push([`RSS growth per idle warm isolate (${SLEEPERS}, prelude compiled, one context), KiB`, '–', fmt(await perSleeper('idle'), 0)]);

  // 4. The cost of a warm isolate.
  const makeWarm = async () => {
    const start = process.hrtime.bigint();
    const warm = new Warm();
    const context = await warm.isolate.createContext();
    await warm.prelude.run(context);
    const took = ms(start);
    warm.isolate.dispose();
    return took;
  };
  const warmTimes: number[] = [];
  for (let i = 0; i < 20 * ROUNDS; i++) warmTimes.push(await makeWarm());
  rows.push(['Making a warm isolate (new Isolate + prelude + first context), ms', '–', fmt(median(warmTimes))]);

  // 5. A memory bomb beside waiting executions.
  const lostA = await inChild(['bomb', 'A']);
  const lostB = await inChild(['bomb', 'B']);
  rows.push([`Memory bomb (${MEMORY_LIMIT_MB} MB limit): waiting executions lost of ${BOMB_NEIGHBOURS}`, `${lostA}`, `${lostB}`]);

  console.log(
    `Node ${process.version}, isolated-vm ${require('isolated-vm/package.json').version}, ${availableParallelism()} cores; medians of ${ROUNDS} rounds\n`,
  );
  console.log('| Measure | A: one shared isolate | B: pool of warm isolates |');
  console.log('|---|---:|---:|');
  for (const [name, va, vb] of rows) console.log(`| ${name} | ${va} | ${vb} |`);
}

const [mode, what] = process.argv.slice(2);
if (mode === 'memory' || mode === 'bomb') {
  const job = mode === 'memory' ? memoryChild(what as 'A' | 'B' | 'idle') : bombChild(what as 'A' | 'B');
  job.then(
    (value) => process.send?.(value, () => process.exit(0)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
