// Starts the real daemon (dist/src/cli.js) as a child process on a free loopback port.
import assert from 'node:assert/strict';
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TestClient, within } from './client.js';

export const CLI = join(__dirname, '..', '..', 'src', 'cli.js');

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface RunningDaemon {
  url: string;
  port: number;
  process: ChildProcess;
  /** Every stdout and stderr line so far. */
  output: string[];
  logs(): LogLine[];
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * A daemon for the tests of the calling describe block: started with `env`
 * before them (a function, for settings known only once an earlier before hook
 * has run, such as a test server's origin), stopped after them. The value
 * returned stands for that daemon inside the tests.
 */
export function useDaemon(env: Record<string, string> | (() => Record<string, string>) = {}): RunningDaemon {
  let running: RunningDaemon | undefined;
  before(async () => {
    running = await startDaemon(typeof env === 'function' ? env() : env);
  });
  after(async () => {
    await running?.stop();
  });
  return new Proxy({} as RunningDaemon, {
    get(_target, property) {
      if (running === undefined) throw new Error('the daemon starts in a before hook: use it inside tests');
      const value: unknown = Reflect.get(running, property);
      return typeof value === 'function' ? value.bind(running) : value;
    },
  });
}

export async function startDaemon(env: Record<string, string> = {}): Promise<RunningDaemon> {
  const child = spawn(process.execPath, ['--no-node-snapshot', CLI, 'serve'], {
    env: { PATH: process.env.PATH, PORT: '0', POOL_SIZE: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  // 'close': exited, and every line it wrote has been read.
  const exited = once(child, 'close') as Promise<[number | null]>;
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const entry = parse(line);
      if (entry?.msg === 'listening') resolve(String(entry.url));
    });
    exited.then(([code]) => reject(new Error(`daemon exited with ${code} before listening:\n${output.join('\n')}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    process: child,
    output,
    logs: () => output.map(parse).filter((entry): entry is LogLine => entry !== undefined),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

/** Asserts that a refused start's stderr names every one of `problems` (it lists them all at once). */
export function assertListsProblems(stderr: string, problems: string[]): void {
  for (const problem of problems) assert.ok(stderr.includes(problem), `missing "${problem}" in:\n${stderr}`);
}

/** pino's level number for `error` (`fatal` is 60). */
export const LOG_LEVEL_ERROR = 50;

/** The daemon's log lines at error or fatal: where a failure inside the daemon shows. */
export function errorLogs(daemon: RunningDaemon): LogLine[] {
  return daemon.logs().filter((line) => (line.level ?? 0) >= LOG_LEVEL_ERROR);
}

/** The isolate each execution ran in, in the order they started (a sandbox logs it at debug level: LOG_LEVEL=debug). */
export function isolatesUsed(daemon: RunningDaemon): number[] {
  return daemon.logs().flatMap((line) => (line.msg === 'execution in isolate' ? [line.isolate as number] : []));
}

/** The daemon's 'execution' log lines for the script `code`, found by its code's hash (the daemon logs 16 hex digits of its SHA-256). */
export function executionLines(daemon: RunningDaemon, code: string): LogLine[] {
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  return daemon.logs().filter((line) => line.msg === 'execution' && line.hash === hash);
}

/** The daemon's http:// base URL, for /healthz and /metrics. */
export function httpBase(daemon: RunningDaemon): string {
  return daemon.url.replace(/^ws/, 'http');
}

/** Throws unless the daemon process runs, GET /healthz answers 200, and a new connection runs 1+1 → 2. */
export async function assertServing(daemon: RunningDaemon, timeoutMs = 10000): Promise<void> {
  const { exitCode, signalCode } = daemon.process;
  if (exitCode !== null || signalCode !== null) {
    throw new Error(`the daemon exited (${signalCode ?? exitCode}); its last output:\n${daemon.output.slice(-15).join('\n')}`);
  }
  const health = await fetch(new URL('/healthz', httpBase(daemon)), { signal: AbortSignal.timeout(timeoutMs) });
  if (health.status !== 200) throw new Error(`GET /healthz answered ${health.status}`);
  const client = await within(TestClient.connect(daemon.url), timeoutMs, 'connecting');
  try {
    const reply = await within(client.execute({ code: '1+1' }), timeoutMs, '1+1 on a new connection');
    if (reply.payload?.value !== 2) throw new Error(`1+1 on a new connection answered ${JSON.stringify(reply).slice(0, 500)}`);
  } finally {
    client.ws.terminate();
  }
}

/** GET /metrics, the Prometheus exposition as text. */
export async function metricsText(daemon: RunningDaemon, token?: string): Promise<string> {
  const res = await fetch(new URL('/metrics', httpBase(daemon)), {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return res.text();
}

/** The value of one sample, e.g. metricSample(text, 'javascriptd_connections'). */
export function metricSample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) {
    const known = text.split('\n').filter((l) => l.startsWith('javascriptd_') && !l.startsWith('javascriptd_process'));
    throw new Error(`no sample ${series} in:\n${known.join('\n')}`);
  }
  return Number(line.split(' ')[1]);
}

/** From /metrics: executions of `key` waiting in its queue, and running (those waiting inside a sandbox included). */
export async function executionCounts(daemon: RunningDaemon, key = 'default'): Promise<{ queued: number; running: number }> {
  const text = await metricsText(daemon);
  return {
    queued: metricSample(text, `javascriptd_queue_depth{key="${key}"}`),
    running: metricSample(text, `javascriptd_executions_running{key="${key}"}`),
  };
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function parse(line: string): LogLine | undefined {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
}

/**
 * Runs the CLI to completion with only `env` (and PATH) as its environment.
 * PORT is 0 unless `env` sets it, so a daemon it starts by mistake, or `health`,
 * never reaches a developer's daemon on the default port.
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--no-node-snapshot', CLI, ...args], {
    env: { PATH: process.env.PATH, PORT: '0', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}
