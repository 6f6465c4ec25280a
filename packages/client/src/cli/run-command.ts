// `javascriptd-client run <file>` (and the daemon's `javascriptd run <file>`):
// runs a script on a daemon through the client library, for shells and CI
// jobs. The secret comes from JAVASCRIPTD_SECRET only, never from a flag that
// process lists would show.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { ExecutionResult, Script, Usage } from '../client.js';
import { ConnectionError, ErrorCode, ExecutionError } from '../errors.js';
import { type Command, UsageError, type Values } from './command.js';
import { startSpinner } from './spinner.js';

const DEFAULT_URL = 'ws://127.0.0.1:8765/';

export const EXIT = { ok: 0, exception: 1, notImplemented: 2, timeout: 3, unreachable: 4, usage: 5, interrupted: 130 } as const;

/** The exit code for an error the daemon answered with. */
function exitCodeOf(code: number): number {
  switch (code) {
    case ErrorCode.Exception:
    case ErrorCode.MemoryLimit:
    case ErrorCode.ResultTooLarge:
      return EXIT.exception;
    case ErrorCode.NotImplemented:
      return EXIT.notImplemented;
    case ErrorCode.Timeout:
      return EXIT.timeout;
    case ErrorCode.InvalidParams:
    case ErrorCode.InvalidRequest:
      return EXIT.usage;
    case ErrorCode.Cancelled:
      return EXIT.interrupted;
    default:
      return EXIT.unreachable;
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readText(file, what));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${what} ${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** --globals, then --event, then each --global, later ones winning. */
function globalsOf(values: Values): Record<string, unknown> | undefined {
  const globals: Record<string, unknown> = {};
  if (typeof values.globals === 'string') {
    const parsed = readJson(values.globals, '--globals');
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new UsageError(`--globals ${values.globals} must hold a JSON object`);
    Object.assign(globals, parsed);
  }
  if (typeof values.event === 'string') globals.event = readJson(values.event, '--event');
  for (const pair of (values.global as string[] | undefined) ?? []) {
    const split = pair.indexOf('=');
    if (split <= 0) throw new UsageError(`--global takes key=value, not ${pair}`);
    const raw = pair.slice(split + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: the value is the text itself.
    }
    globals[pair.slice(0, split)] = value;
  }
  return Object.keys(globals).length === 0 ? undefined : globals;
}

/** What a file's extension says its code is: .ts and .cts TypeScript, .mts a TypeScript module, .mjs a module. */
const KINDS: Record<string, Pick<Script, 'module' | 'typescript'>> = {
  '.ts': { typescript: true },
  '.cts': { typescript: true },
  '.mts': { module: true, typescript: true },
  '.mjs': { module: true },
};

function kindOf(values: Values, file: string): Pick<Script, 'module' | 'typescript'> {
  const kind = { ...KINDS[extname(file).toLowerCase()] };
  if (values.module === true) kind.module = true;
  if (values.typescript === true) kind.typescript = true;
  return kind;
}

function scriptOf(values: Values, file: string): Script {
  const script: Script = { code: readText(file, 'script'), ...kindOf(values, file) };
  if (typeof values.call === 'string') script.call = values.call;
  if (typeof values.caller === 'string') script.caller = readText(values.caller, '--caller');
  const globals = globalsOf(values);
  if (globals !== undefined) script.globals = globals;
  if (values.usage === true) script.usage = true;
  if (typeof values.timeout === 'string') {
    const timeout = Number(values.timeout);
    if (!Number.isInteger(timeout) || timeout <= 0)
      throw new UsageError(`--timeout must be a positive whole number of ms, not ${values.timeout}`);
    script.timeout = timeout;
  }
  return script;
}

function urlOf(values: Values): string {
  const url = typeof values.url === 'string' ? values.url : process.env.JAVASCRIPTD_URL || DEFAULT_URL;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UsageError(`--url ${url} is not a URL`);
  }
  if (protocol !== 'ws:' && protocol !== 'wss:') throw new UsageError(`--url must be ws:// or wss://, not ${url}`);
  return url;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** `printed`: console lines already printed as they came. */
function printResult(result: ExecutionResult, json: boolean, printed: number): void {
  if (json) {
    print(JSON.stringify(result));
    return;
  }
  for (const line of result.console.slice(printed)) print(line);
  print(JSON.stringify(result.value, null, 2) ?? 'null');
  if (result.usage !== undefined) printUsage(result.usage);
}

/**
 * `text` with the name the daemon gives the code it ran (script.js, module.ts…:
 * docs/scripts.md, "Errors point at the source sent") replaced, in its positions, by the
 * file's own.
 */
function withFileName(text: string, script: Script, file: string): string {
  if (file === '-') return text;
  const ran = `${script.module === true ? 'module' : 'script'}\\.${script.typescript === true ? 'ts' : 'js'}`;
  return text.replace(new RegExp(`(?<![\\w.-])${ran}(?=:\\d+:\\d+)`, 'g'), () => file);
}

/** What the daemon's error says, for a person: the function --call looked for, positions in the file, the message once. */
function printError(error: ExecutionError, script: Script, file: string, program: string, printed: number): void {
  for (const line of error.console.slice(printed)) print(line);
  let message = withFileName(error.message, script, file);
  // The daemon's message stays the original javascriptd's, which its clients compare exactly: the name is added here.
  if (error.code === ErrorCode.NotImplemented && script.call !== undefined)
    message += `: no ${script.module === true ? 'exported function' : 'function'} ${JSON.stringify(script.call)} in the ${script.module === true ? 'module' : 'script'}`;
  process.stderr.write(`${program}: ${error.code} ${message}\n`);
  // A stack begins with the message, just printed: only its frames follow.
  const stack = withFileName(error.scriptStack ?? '', script, file);
  const frames = stack.startsWith(message) ? stack.slice(message.length).replace(/^\n/, '') : stack;
  if (frames !== '') process.stderr.write(`${frames}\n`);
  if (isUsage(error.data?.usage)) printUsage(error.data.usage);
}

/** The daemon's error as it sent it, for --json. */
function printErrorJson(error: ExecutionError): void {
  print(JSON.stringify({ error: { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) } }));
}

function printUsage(usage: Usage): void {
  const fetches = `${usage.fetchRequests} fetch${usage.fetchRequests === 1 ? '' : 'es'} (${usage.fetchBytesOut} B out, ${usage.fetchBytesIn} B in)`;
  process.stderr.write(
    `usage: cpu ${usage.cpuMs} ms, wall ${usage.wallMs} ms, heap ${usage.heapBytes} B, ${fetches}, console ${usage.consoleBytes} B\n`,
  );
}

function isUsage(value: unknown): value is Usage {
  return typeof value === 'object' && value !== null && typeof (value as Usage).cpuMs === 'number';
}

export const run: Command = {
  name: 'run',
  args: '<file>',
  positionals: { min: 1, max: 1 },
  summary: [
    'Runs a script file ("-": standard input) on a daemon, then prints its console lines and its value as JSON.',
    'A .ts or .cts file is sent as TypeScript, .mts as a TypeScript module, .mjs as a module; --module and --typescript say so for any file.',
    `The secret comes from JAVASCRIPTD_SECRET (sent as x-runtime-secret); the daemon from --url, JAVASCRIPTD_URL or ${DEFAULT_URL}.`,
  ].join('\n'),
  options: {
    call: { type: 'string', value: 'name', description: 'call this function with cb, as the original javascriptd does' },
    caller: { type: 'string', value: 'file', description: 'source of a caller function (callee, cb) => …' },
    globals: { type: 'string', value: 'file.json', description: "a JSON object whose keys become the script's globals" },
    event: { type: 'string', value: 'file.json', description: 'a JSON file that becomes the global `event` (e.g. $GITHUB_EVENT_PATH)' },
    global: {
      type: 'string',
      multiple: true,
      value: 'key=value',
      description: 'one global; the value is read as JSON if it is JSON, else as text',
    },
    url: { type: 'string', value: 'ws://…', description: 'the daemon to run it on' },
    timeout: { type: 'string', value: 'ms', description: "the script's time limit (default: the daemon's TIMEOUT)" },
    module: {
      type: 'boolean',
      description: 'the script is an ES module (imports, top-level await; --call names an export); default for .mjs and .mts',
    },
    typescript: { type: 'boolean', description: 'the script is TypeScript (types stripped, not checked); default for .ts, .cts and .mts' },
    usage: { type: 'boolean', description: 'print what the run cost (CPU, wall time, heap, fetches, console) on stderr' },
    json: { type: 'boolean', description: 'print the whole reply as one JSON document (console lines then come with it, not as printed)' },
  },
  refused: { secret: 'pass the secret in JAVASCRIPTD_SECRET (a command line shows in process lists)' },
  details: () => [
    '',
    'Console lines are printed as the script prints them. Ctrl-C cancels the execution in the daemon, then exits 130.',
    'Exit codes: 0 success; 1 exception (1000; also 1003 memory, 1005 result too large); 2 not implemented (1001);',
    '3 timeout (1002); 4 cannot connect or refused (also 1004 busy, 1006 shutting down, -32603); 5 usage error; 130 cancelled.',
  ],
  async run(values, [file], program) {
    const script = scriptOf(values, file);
    const url = urlOf(values);
    const json = values.json === true;
    const stopSpinner = startSpinner(process.stderr, `running ${file === '-' ? 'stdin' : file} on ${url}`);
    // Ctrl-C: the execution is cancelled in the daemon; a second one exits at once.
    const cancel = new AbortController();
    process.once('SIGINT', () => {
      stopSpinner();
      cancel.abort();
    });
    let printed = 0;
    const onConsole = (line: string) => {
      stopSpinner();
      print(line);
      printed++;
    };
    try {
      // Loaded here: the table above is all --help (and a CLI embedding `run`) needs.
      const { connect } = await import('../client.js');
      const client = await connect(url, { secret: process.env.JAVASCRIPTD_SECRET || undefined, reconnect: false });
      try {
        const result = await client.execute(script, { signal: cancel.signal, onConsole: json ? undefined : onConsole });
        stopSpinner();
        printResult(result, json, printed);
        return EXIT.ok;
      } finally {
        await client.close();
      }
    } catch (error) {
      stopSpinner();
      if (cancel.signal.aborted) {
        process.stderr.write(`${program}: cancelled\n`);
        return EXIT.interrupted;
      }
      if (error instanceof ExecutionError) {
        if (json) printErrorJson(error);
        else printError(error, script, file, program, printed);
        return exitCodeOf(error.code);
      }
      if (error instanceof ConnectionError) {
        if (json) print(JSON.stringify({ error: { connection: error.reason, message: error.message } }));
        process.stderr.write(`${program}: ${error.message}\n`);
        return EXIT.unreachable;
      }
      throw error;
    }
  },
};
