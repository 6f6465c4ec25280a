// One table per command: its options parse the arguments (node's
// util.parseArgs) and print its --help, so the two cannot disagree. Shared by
// javascriptd-client's CLI and the daemon's (which adds its own commands).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface Option {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in --help, e.g. "file". */
  value?: string;
  description: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  /** Positional arguments as --help shows them, e.g. "<file>". */
  args: string;
  positionals: { min: number; max: number };
  summary: string;
  options: Record<string, Option>;
  /** More --help text after the options. */
  details?: () => string[];
  /** Flags that are not options, each with what to do instead (e.g. --secret: the secret's variable). */
  refused?: Record<string, string>;
  /** Resolves with the exit code. `program` is the CLI's name, for its messages. */
  run(values: Values, positionals: string[], program: string): Promise<number>;
}

/** Wrong arguments: the CLI prints the message and `usage` (the command's usage line, else the CLI's), and exits 5. */
export class UsageError extends Error {
  usage: string | undefined;
}

export const HELP: Option = { type: 'boolean', short: 'h', description: 'show this help' };

const synopsis = (command: Command, program: string) =>
  `Usage: ${program} ${command.name}${command.args === '' ? '' : ` ${command.args}`} [options]`;

/** The line after a usage error's message: how the command is called, and where its options are. */
export function usageLine(command: Command, program = 'javascriptd'): string {
  return `${synopsis(command, program)} (\`${program} ${command.name} --help\` lists them)`;
}

/** The command's --help; `program` is the CLI's name (javascriptd, javascriptd-client). */
export function help(command: Command, program = 'javascriptd'): string {
  const options = Object.entries({ ...command.options, help: HELP }).map(([name, option]) => {
    const flag = `${option.short === undefined ? '    ' : `-${option.short}, `}--${name}${option.value === undefined ? '' : ` <${option.value}>`}`;
    return `  ${flag.padEnd(28)} ${option.description}${option.multiple ? ' (repeatable)' : ''}`;
  });
  return [synopsis(command, program), '', command.summary, '', 'Options:', ...options, ...(command.details?.() ?? []), ''].join('\n');
}

export function parse(command: Command, argv: string[], program = 'javascriptd'): { values: Values; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries({ ...command.options, help: HELP }).map(([name, { type, short, multiple }]) => [
      name,
      { type, ...(short === undefined ? {} : { short }), ...(multiple ? { multiple } : {}) },
    ]),
  );
  for (const arg of argv) {
    if (arg === '--') break;
    const name = /^--([^=]+)/.exec(arg)?.[1];
    const instead = name === undefined ? undefined : command.refused?.[name];
    if (instead !== undefined) throw new UsageError(`--${name} is not an option: ${instead}`);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's message goes on about positional arguments after '--': the option's name is what matters.
    const unknown = (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(unknown ? `unknown option ${/'([^']*)'/.exec(message)?.[1] ?? message}` : message);
  }
  const { positionals } = parsed;
  // Options are declared string or boolean, so their values are strings, booleans or lists of strings.
  const values = parsed.values as Values;
  if (values.help === true) return { values, positionals };
  const { min, max } = command.positionals;
  if (positionals.length < min) throw new UsageError(`${program} ${command.name} needs ${command.args}`);
  if (positionals.length > max) throw new UsageError(`unexpected argument: ${positionals.slice(max).join(' ')}`);
  return { values, positionals };
}

/** Writes `text` to stdout; a command's exit code 0. */
export function say(text: string): number {
  process.stdout.write(text);
  return 0;
}

/** The version in the package.json at `packageRoot`. */
export function versionAt(packageRoot: string): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
