// `npm run bench:soak [-- --seconds 150 --connections 32]`: the mixed soak
// (test/helpers/soak.ts) against a real daemon with the soak's settings, then a
// check that the daemon still serves. Prints a table per kind and the target's
// row, and writes the whole result to bench/results/soak.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertServing, startDaemon } from '../test/helpers/daemon.js';
import { runSoak, SOAK_SETTINGS, soakTable } from '../test/helpers/soak.js';
import { soakTarget } from './targets.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '150' },
    connections: { type: 'string', default: '32' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);

async function main(): Promise<void> {
  if (!(seconds > 0) || !Number.isInteger(connections) || connections < 1) throw new Error('--seconds and --connections must be positive');
  // The tests' helper pins POOL_SIZE to 2; the soak runs with the default, the number of cores.
  const settings = { POOL_SIZE: String(availableParallelism()), ...SOAK_SETTINGS };
  const daemon = await startDaemon(settings);
  try {
    process.stderr.write(`soak: ${connections} connections × ${seconds} s, ${JSON.stringify(settings)}\n`);
    const result = await runSoak({ url: daemon.url, connections, durationMs: seconds * 1000 });
    const servedAfter = await assertServing(daemon).then(
      () => true,
      (error: Error) => {
        process.stderr.write(`bench:soak: after the soak, ${error.message}\n`);
        process.exitCode = 1;
        return false;
      },
    );
    const row = soakTarget(result);
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}`;
    process.stdout.write(
      `${soakTable(result)}\n\nOn ${machine}, settings ${JSON.stringify(settings)}; the daemon ${servedAfter ? 'served' : '**did not serve**'} after it.\n` +
        `target: ${row.target}: ${row.met ? 'met' : 'not met'}\n`,
    );
    const out = join(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'soak.json'), `${JSON.stringify({ machine, settings, ...result, servedAfter, target: row }, null, 2)}\n`);
    process.stdout.write('written to bench/results/soak.json\n');
  } finally {
    await daemon.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:soak: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
