// The `javascriptd-client` command: `run <file>` runs a script file on a
// daemon; --help and --version. The daemon's own CLI has `javascriptd run`,
// the same command.
import { join } from 'node:path';
import { help, parse, say, UsageError, usageLine, versionAt } from './command.js';
import { EXIT, run } from './run-command.js';

const PROGRAM = 'javascriptd-client';

function overview(): string {
  return [
    `Usage: ${PROGRAM} run <file> [options]`,
    '',
    `${run.summary.split('\n')[0]}`,
    '',
    `\`${PROGRAM} run --help\` lists its options; -v, --version prints the version.`,
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h') return say(overview());
  if (first === '--version' || first === '-v') return say(`${versionAt(join(__dirname, '..', '..'))}\n`);
  if (first === undefined) throw new UsageError(`${PROGRAM} needs a command: run <file>`);
  if (first !== run.name)
    throw new UsageError(
      `unknown command: ${first}${first.startsWith('-') ? '' : ` (${PROGRAM} runs scripts only; the daemon is the javascriptd command)`}`,
    );
  try {
    const { values, positionals } = parse(run, rest, PROGRAM);
    if (values.help === true) return say(help(run, PROGRAM));
    return await run.run(values, positionals, PROGRAM);
  } catch (error) {
    if (error instanceof UsageError) error.usage = usageLine(run, PROGRAM);
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${PROGRAM}: ${error.message}\n${error.usage ?? usageLine(run, PROGRAM)}\n`);
      process.exit(EXIT.usage);
    }
    process.stderr.write(`${PROGRAM}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
