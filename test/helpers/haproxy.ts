// A real HAProxy (Debian's package) on loopback, proxying WebSockets to daemons
// and checking their /healthz.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './daemon.js';
import { until } from './poll.js';

export interface RunningProxy {
  url: string;
  stop(): Promise<void>;
}

export async function startHaproxy(backendPorts: number[]): Promise<RunningProxy> {
  if (spawnSync('haproxy', ['-v']).error !== undefined) {
    throw new Error('haproxy is not installed: apt-get install -y haproxy (.ci/run does this)');
  }
  const port = await freePort();
  const config = [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout check 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    // A WebSocket is a tunnel once upgraded; it lives as long as the client keeps it.
    '  timeout tunnel 1h',
    '  option redispatch',
    '  retries 2',
    'frontend javascriptd',
    `  bind 127.0.0.1:${port}`,
    '  default_backend daemons',
    'backend daemons',
    '  balance roundrobin',
    '  option httpchk GET /healthz',
    ...backendPorts.map((backend, i) => `  server d${i} 127.0.0.1:${backend} check inter 200ms fall 2 rise 1`),
    '',
  ].join('\n');
  const file = join(mkdtempSync(join(tmpdir(), 'javascriptd-haproxy-')), 'haproxy.cfg');
  writeFileSync(file, config);
  const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy refused its configuration:\n${check.stdout}${check.stderr}`);
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const output: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await waitForPort(port, child, output);
  return {
    url: `ws://127.0.0.1:${port}/`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, output: string[]): Promise<void> {
  try {
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}`);
      const response = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return response?.ok === true;
    }, `haproxy serving on ${port}`);
  } catch (error) {
    // Its output says why.
    throw new Error(`${(error as Error).message}:\n${output.join('')}`);
  }
}
