// The real curl, as a CI job would call the daemon: its status, headers and body.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface CurlAnswer {
  status: number;
  /** The final response's headers, names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** Runs `curl -sS <args>`; resolves with what the daemon answered (curl's own failure rejects). */
export async function curl(args: string[]): Promise<CurlAnswer> {
  const dir = await mkdtemp(join(tmpdir(), 'javascriptd-curl-'));
  try {
    const { stdout } = await promisify(execFile)(
      'curl',
      ['-sS', '-o', join(dir, 'body'), '-D', join(dir, 'headers'), '-w', '%{http_code}', ...args],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    const blocks = (await readFile(join(dir, 'headers'), 'utf8')).trim().split(/\r?\n\r?\n/);
    // A 100 Continue comes first when curl waited for it: the last block is the answer.
    const lines = (blocks.at(-1) ?? '').split(/\r?\n/).slice(1);
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    return { status: Number(stdout), headers, body: await readFile(join(dir, 'body'), 'utf8').catch(() => '') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** curl's arguments that say a POST's body is JSON. */
export const JSON_HEADER = ['-H', 'content-type: application/json'];
