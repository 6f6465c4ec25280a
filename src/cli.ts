// The `javascriptd` command: `serve` (the default) runs the daemon; `run` runs
// a script on one; the others prepare and check deployments. Each command's
// flags and --help come from its table (cli/command.ts).
// First: on a Node it does not support, one line and exit 2.
import './cli/supported-node.js';
import { join } from 'node:path';
import { type Command, help, parse, say, UsageError, usageLine, versionAt } from './cli/command.js';
import { DAEMON_EXIT, health, images, prepare, schema, serve } from './cli/daemon-commands.js';
import { run } from './cli/run-command.js';
import { ConfigError } from './config/config-error.js';

const COMMANDS: readonly Command[] = [serve, run, health, prepare, schema, images];

function overview(): string {
  return [
    'Usage: javascriptd [command] [options]',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${`${command.name} ${command.args}`.padEnd(20)} ${command.summary.split('\n')[0]}`),
    '',
    '`javascriptd <command> --help` describes a command; -v, --version prints the version.',
    'With no command, javascriptd serves:',
    '',
    help(serve),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [first = 'serve', ...rest] = argv;
  if (first === '--help' || first === '-h') return say(overview());
  if (first === '--version' || first === '-v') return say(`${versionAt(join(__dirname, '..', '..'))}\n`);
  // Flags without a command are the default command's (`javascriptd --unknown` gets serve's usage).
  const defaulted = first.startsWith('-');
  const command = defaulted ? serve : COMMANDS.find((candidate) => candidate.name === first);
  if (command === undefined) throw new UsageError(`unknown command: ${first}`);
  try {
    const { values, positionals } = parse(command, defaulted ? argv : rest);
    if (values.help === true) return say(help(command));
    return await command.run(values, positionals, 'javascriptd');
  } catch (error) {
    if (error instanceof UsageError) error.usage = usageLine(command);
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(
        `javascriptd: ${error.message}\n${error.usage ?? 'Usage: javascriptd [command] [options] (`javascriptd --help` lists the commands)'}\n`,
      );
      process.exit(DAEMON_EXIT.usage);
    }
    process.stderr.write(`javascriptd: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ConfigError ? DAEMON_EXIT.invalidSettings : DAEMON_EXIT.failed);
  },
);
