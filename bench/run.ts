// `npm run bench`: javascriptd side by side with the original node:vm design and
// the protocol's own ceiling, in turn, in one run, on the same Node. Prints a
// Markdown table of medians and ratios and writes it, with an SVG chart, to
// bench/results/.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runSoak, SOAK_SETTINGS } from '../test/helpers/soak.js';
import { chart } from './chart.js';
import { type LoadResult, runLoad } from './load.js';
import {
  idleConnectionsTarget,
  latencyTargets,
  lightBesideBusyLoopsTarget,
  lightBesideSleepersTarget,
  poolScalingTarget,
  sleepersMemoryTarget,
  soakTarget,
  type TargetRow,
} from './targets.js';

const ROOT = join(__dirname, '..', '..');
const DURATION_MS = Number(process.env.BENCH_DURATION ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 16;
/** The mixed soak as issue 21 states its target. */
const SOAK_CONNECTIONS = 32;
const SOAK_SECONDS = 150;

interface Server {
  name: string;
  url: string;
  process: ChildProcess;
}

const FIFTY_KB = Array.from({ length: 900 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i % 7}; }`).join('\n');

const WORKLOADS: { name: string; script: (n: number) => unknown }[] = [
  { name: 'hello world', script: () => ({ code: 'function run(cb) { cb("hello world"); }', call: 'run' }) },
  { name: '50 KB script', script: () => ({ code: `${FIFTY_KB}\nfunction run(cb) { cb(f899(2)); }`, call: 'run' }) },
  { name: "require('lodash')", script: () => ({ code: 'function run(cb) { cb(require("lodash").chunk([1, 2, 3], 2)); }', call: 'run' }) },
  { name: 'async, 10 ms timer', script: () => ({ code: 'function run(cb) { setTimeout(() => cb("late"), 10); }', call: 'run' }) },
  {
    name: 'mixed, 10% time out',
    script: (n) =>
      n % 10 === 0 ? { code: 'while (true) {}', timeout: 50 } : { code: 'function run(cb) { cb("hello world"); }', call: 'run' },
  },
];

async function startServer(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: (line: string) => string | undefined,
): Promise<Server> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const found = ready(line);
      if (found) resolve(found);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return { name, url, process: child };
}

function startJavascriptd(env: Record<string, string> = {}): Promise<Server> {
  return startServer(
    'javascriptd',
    ['--no-node-snapshot', join(ROOT, 'dist', 'src', 'cli.js'), 'serve'],
    { PORT: '0', MODULES: 'lodash', MODULE_PATH: join(ROOT, 'node_modules'), ...env },
    (line) => (line.includes('"msg":"listening"') ? (JSON.parse(line) as { url: string }).url : undefined),
  );
}

function startReference(mode: 'vm' | 'ceiling'): Promise<Server> {
  return startServer(
    mode === 'vm' ? 'node:vm baseline' : 'protocol ceiling',
    [join(ROOT, 'dist', 'bench', 'reference-server.js'), mode],
    {},
    (line) => (/^\d+$/.test(line) ? `ws://127.0.0.1:${line}/` : undefined),
  );
}

/** A process and its children (sandbox processes), from /proc. */
function family(pid: number): number[] {
  return [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
}

/** Resident memory of a process and its children, in MB. */
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const own = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return family(pid).reduce((sum, p) => sum + own(p), 0);
}

/** CPU time a process has used, in seconds (utime + stime, in clock ticks of 1/100 s). */
function ownCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU time a process and its children have used, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  return family(pid).reduce((sum, p) => sum + ownCpuSeconds(p), 0);
}

/** CPU time of the daemon alone and of its sandbox processes, in seconds. */
function cpuSplit(pid: number | undefined): { daemon: number; sandboxes: number } {
  if (pid === undefined) return { daemon: Number.NaN, sandboxes: Number.NaN };
  const daemon = ownCpuSeconds(pid);
  return { daemon, sandboxes: cpuSeconds(pid) - daemon };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const servers = [await startJavascriptd(), await startReference('vm'), await startReference('ceiling')];
  const targets: TargetRow[] = [];
  const results = new Map<string, { perSecond: number[]; p50: number[]; p99: number[]; rss: number[]; errors: LoadResult['errors'] }>();
  // CPU ms per hello world, from /proc over each round's run (kernel time included, which a profile does not show).
  const helloCpu = { daemon: [] as number[], sandboxes: [] as number[] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const workload of WORKLOADS) {
        for (const server of servers) {
          const measureCpu = server === servers[0] && workload === WORKLOADS[0];
          const cpuBefore = cpuSplit(server.process.pid);
          const result = await runLoad({
            url: server.url,
            connections: CONNECTIONS,
            inFlight: 2,
            durationMs: DURATION_MS,
            script: workload.script,
          });
          if (measureCpu) {
            const cpuAfter = cpuSplit(server.process.pid);
            helloCpu.daemon.push(((cpuAfter.daemon - cpuBefore.daemon) * 1000) / result.executions);
            helloCpu.sandboxes.push(((cpuAfter.sandboxes - cpuBefore.sandboxes) * 1000) / result.executions);
          }
          const key = `${workload.name}\0${server.name}`;
          const entry = results.get(key) ?? { perSecond: [], p50: [], p99: [], rss: [], errors: {} };
          entry.perSecond.push(result.perSecond);
          entry.p50.push(result.p50);
          entry.p99.push(result.p99);
          entry.rss.push(rssMb(server.process.pid));
          for (const [code, count] of Object.entries(result.errors)) entry.errors[code] = (entry.errors[code] ?? 0) + count;
          results.set(key, entry);
          process.stderr.write(
            `round ${round + 1}/${ROUNDS} ${workload.name} · ${server.name}: ${result.perSecond.toFixed(0)}/s p50 ${result.p50.toFixed(2)} ms\n`,
          );
        }
      }
    }
    process.stderr.write('targets: latency, script cache, require, idle connections\n');
    targets.push(...(await latencyTargets(servers[0].url, servers[1].url, servers[2].url, DURATION_MS)));
    targets.push(await idleConnectionsTarget(servers[0].url, () => rssMb(servers[0].process.pid)));
    process.stderr.write('targets: a light call beside sleepers, 256 sleepers\n');
    targets.push(await lightBesideSleepersTarget(servers[0].url, DURATION_MS));
    targets.push(await sleepersMemoryTarget(servers[0].url, () => rssMb(servers[0].process.pid)));
    process.stderr.write('targets: a light call beside busy loops\n');
    targets.push(await lightBesideBusyLoopsTarget(servers[0].url, cpus().length));
  } finally {
    for (const server of servers) server.process.kill('SIGTERM');
  }
  process.stderr.write('targets: POOL_SIZE 1 and 2\n');
  const pools = [await startJavascriptd({ POOL_SIZE: '1' }), await startJavascriptd({ POOL_SIZE: '2' })];
  try {
    const [one, two] = pools.map((server) => ({ url: server.url, cpuSeconds: () => cpuSeconds(server.process.pid) }));
    targets.push(await poolScalingTarget({ one, two }, DURATION_MS, ROUNDS));
  } finally {
    for (const server of pools) server.process.kill('SIGTERM');
  }
  process.stderr.write(
    `targets: the mixed soak, ${SOAK_CONNECTIONS} connections × ${SOAK_SECONDS} s (npm run bench:soak for its details)\n`,
  );
  const soak = await startJavascriptd(SOAK_SETTINGS);
  try {
    targets.push(soakTarget(await runSoak({ url: soak.url, connections: SOAK_CONNECTIONS, durationMs: SOAK_SECONDS * 1000 })));
  } finally {
    soak.process.kill('SIGTERM');
  }

  const rows = WORKLOADS.flatMap((workload) => {
    const baseline = median(results.get(`${workload.name}\0node:vm baseline`)!.perSecond);
    return servers.map((server) => {
      const r = results.get(`${workload.name}\0${server.name}`)!;
      const perSecond = median(r.perSecond);
      const errors =
        Object.entries(r.errors)
          .map(([code, n]) => `${code}×${n}`)
          .join(' ') || '—';
      return {
        workload: workload.name,
        server: server.name,
        perSecond,
        ratio: perSecond / baseline,
        p50: median(r.p50),
        p99: median(r.p99),
        rss: median(r.rss),
        errors,
      };
    });
  });
  const ours = (workload: string) => rows.find((r) => r.workload === workload && r.server === 'javascriptd')!;
  const hello = ours('hello world');
  const timer = ours('async, 10 ms timer');
  const lodash = ours("require('lodash')");
  targets.unshift(
    {
      target: 'async, 10 ms timer ≥ 1.5× the node:vm baseline, and ≥ 0.8× our own hello-world rate',
      measured: `${timer.ratio.toFixed(2)}×; ${(timer.perSecond / hello.perSecond).toFixed(2)}× hello world`,
      met: timer.ratio >= 1.5 && timer.perSecond >= 0.8 * hello.perSecond,
    },
    { target: 'hello world at 16 connections ≥ 2× the node:vm baseline', measured: `${hello.ratio.toFixed(2)}×`, met: hello.ratio >= 2 },
    { target: "require('lodash') ≥ 1.5× the node:vm baseline", measured: `${lodash.ratio.toFixed(2)}×`, met: lodash.ratio >= 1.5 },
    {
      target: 'CPU per hello world at 16 connections: sandboxes ≤ 0.35 ms, daemon ≤ 0.12 ms',
      measured: `sandboxes ${median(helloCpu.sandboxes).toFixed(2)} ms, daemon ${median(helloCpu.daemon).toFixed(2)} ms (from /proc: kernel time included)`,
      met: median(helloCpu.sandboxes) <= 0.35 && median(helloCpu.daemon) <= 0.12,
    },
  );
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const table = [
    `Medians of ${ROUNDS} rounds of ${DURATION_MS / 1000} s, ${CONNECTIONS} connections × 2 in flight, on ${machine}. Ratio: throughput over the node:vm baseline's. RSS: the server with its sandbox processes.`,
    '',
    '| workload | server | exec/s | × baseline | p50 ms | p99 ms | RSS MB | errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.server} | ${r.perSecond.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.rss.toFixed(0)} | ${r.errors} |`,
    ),
    '',
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
  ].join('\n');
  const out = join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.md'), `${table}\n`);
  writeFileSync(join(out, 'latest.svg'), chart(rows));
  process.stdout.write(`${table}\n\nwritten to bench/results/latest.md and latest.svg\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
