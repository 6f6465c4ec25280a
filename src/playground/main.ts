// The playground page: a script and its inputs, kept in localStorage across
// reloads, run on the daemon that served the page; its console streams in as
// it prints, then its value, time and usage, or its error with the line the
// error points at highlighted in the editor.
import type { ExecutionResult, Script } from 'javascriptd-client';
import { ErrorCode } from 'javascriptd-client/errors';
import { jsonEditor, ScriptEditor } from './editor.js';
import { ConnectionFailed, type ErrorReply, type Run, run } from './session.js';

const STORED = 'javascriptd.playground';
/** The secret, kept only when its visitor ticks "remember": localStorage is plain text on disk. */
const STORED_SECRET = 'javascriptd.playground.secret';

interface Inputs {
  code: string;
  globals: string;
  call: string;
  caller: string;
  timeout: string;
  module: boolean;
  typescript: boolean;
}

const EXAMPLE: Inputs = {
  code: "// Runs on the daemon that served this page,\n// with your key's modules, fetch rules and limits.\nconst items = [3, 1, 2];\nfor (const n of items) console.log('item', n);\n({ total: items.reduce((a, b) => a + b, 0), sorted: items.toSorted() })\n",
  globals: '{}',
  call: '',
  caller: '',
  timeout: '',
  module: false,
  typescript: false,
};

const CODE_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
};

const fields = {
  call: element<HTMLInputElement>('call'),
  caller: element<HTMLInputElement>('caller'),
  timeout: element<HTMLInputElement>('timeout'),
  module: element<HTMLInputElement>('module'),
  typescript: element<HTMLInputElement>('typescript'),
  secret: element<HTMLInputElement>('secret'),
  remember: element<HTMLInputElement>('remember'),
};
const runButton = element<HTMLButtonElement>('run');
const cancelButton = element<HTMLButtonElement>('cancel');
const globalsError = element('globals-error');
const status = element('status');
const consoleOut = element('console');
const valueOut = element('value');
const usageOut = element('usage');

const inputs = load();
const script = new ScriptEditor(element('code'), inputs.code, 'code-label', inputs.typescript, save);
const globals = jsonEditor(element('globals'), inputs.globals, 'globals-label', save);
fields.call.value = inputs.call;
fields.caller.value = inputs.caller;
fields.timeout.value = inputs.timeout;
fields.module.checked = inputs.module;
fields.typescript.checked = inputs.typescript;
fields.secret.value = localStorage.getItem(STORED_SECRET) ?? '';
fields.remember.checked = localStorage.getItem(STORED_SECRET) !== null;

for (const field of [fields.call, fields.caller, fields.timeout, fields.module, fields.typescript]) field.addEventListener('change', save);
fields.typescript.addEventListener('change', () => script.setTypeScript(fields.typescript.checked));
fields.secret.addEventListener('change', saveSecret);
fields.remember.addEventListener('change', saveSecret);
// A form, so that Enter in the secret field runs too.
element('run-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (!runButton.disabled) void start();
});
// Capturing on window: Ctrl/Cmd-Enter runs from any control, the editors included, before CodeMirror sees the key.
window.addEventListener(
  'keydown',
  (event) => {
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    event.stopPropagation();
    if (!runButton.disabled) void start();
  },
  true,
);

let current: Run | undefined;
/** The console lines streamed in during the current run. */
let streamed: string[] = [];
cancelButton.addEventListener('click', () => {
  current?.cancel();
  say('Cancelling…');
});

function load(): Inputs {
  try {
    return { ...EXAMPLE, ...(JSON.parse(localStorage.getItem(STORED) ?? '{}') as Partial<Inputs>) };
  } catch {
    return EXAMPLE;
  }
}

function save(): void {
  const saved: Inputs = {
    code: script.text,
    globals: globals.state.doc.toString(),
    call: fields.call.value,
    caller: fields.caller.value,
    timeout: fields.timeout.value,
    module: fields.module.checked,
    typescript: fields.typescript.checked,
  };
  localStorage.setItem(STORED, JSON.stringify(saved));
}

function saveSecret(): void {
  if (fields.remember.checked) localStorage.setItem(STORED_SECRET, fields.secret.value);
  else localStorage.removeItem(STORED_SECRET);
}

/** The globals as an object, or undefined (none); a message in the page, and null, when they are not a JSON object. */
function readGlobals(): Record<string, unknown> | undefined | null {
  const text = globals.state.doc.toString().trim();
  globalsError.textContent = '';
  if (text === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    globalsError.textContent = 'Globals must be a JSON object, e.g. {"event": {"n": 21}}: nothing was sent.';
  } catch (error) {
    globalsError.textContent = `Globals are not valid JSON (${(error as Error).message}): nothing was sent.`;
  }
  return null;
}

function request(globalValues: Record<string, unknown> | undefined): Script {
  const timeout = Number.parseInt(fields.timeout.value, 10);
  return {
    code: script.text,
    ...(globalValues === undefined ? {} : { globals: globalValues }),
    ...(fields.call.value.trim() === '' ? {} : { call: fields.call.value.trim() }),
    ...(fields.caller.value.trim() === '' ? {} : { caller: fields.caller.value }),
    ...(Number.isFinite(timeout) ? { timeout } : {}),
    module: fields.module.checked,
    typescript: fields.typescript.checked,
    usage: true,
  };
}

async function start(): Promise<void> {
  save();
  const globalValues = readGlobals();
  if (globalValues === null) return say('Not run: fix the globals first.');
  script.markError(undefined);
  streamed = [];
  showConsole([]);
  valueOut.textContent = '';
  usageOut.replaceChildren();
  runButton.disabled = true;
  say('Running…');
  try {
    const sent = request(globalValues);
    current = await run(fields.secret.value, sent, (lines) => {
      streamed.push(...lines);
      consoleOut.append(...lines.map((line) => `${line}\n`));
    });
    // Only now is there a request to cancel.
    cancelButton.disabled = false;
    const outcome = await current.outcome;
    if (outcome.ok) showResult(outcome.result);
    else showError(outcome.error, sent);
  } catch (error) {
    if (!(error instanceof ConnectionFailed)) throw error;
    say(error.message, 'error');
  } finally {
    current = undefined;
    runButton.disabled = false;
    cancelButton.disabled = true;
  }
}

function say(message: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  status.textContent = message;
  status.dataset.kind = kind;
}

function showResult(result: ExecutionResult): void {
  showConsole(result.console);
  valueOut.textContent = 'value' in result && result.value !== undefined ? JSON.stringify(result.value, null, 2) : 'undefined';
  showUsage(result.time, result.usage);
  say(`Done in ${result.time.toFixed(1)} ms.`, 'ok');
}

function showError(error: ErrorReply, sent: Script): void {
  const name = CODE_NAMES.get(error.code);
  showConsole(error.data?.console ?? []);
  valueOut.textContent = `Error ${error.code}${name === undefined ? '' : ` ${name}`}: ${error.message}${error.data?.stack === undefined ? '' : `\n\n${error.data.stack}`}`;
  if (error.data?.usage !== undefined) showUsage(error.data.usage.wallMs, error.data.usage);
  const line = errorLine(error, sent);
  script.markError(line);
  say(
    `Error ${error.code}${name === undefined ? '' : ` ${name}`}${line === undefined ? '' : ` at line ${line}`}: ${error.message}`,
    'error',
  );
}

/** The line of the first place in the stack (or a syntax error's message) that is in the script's own file. */
function errorLine(error: ErrorReply, sent: Script): number | undefined {
  const file = `${sent.module === true ? 'module' : 'script'}.${sent.typescript === true ? 'ts' : 'js'}`;
  const at = new RegExp(`\\b${file.replace('.', '\\.')}:(\\d+):\\d+`).exec(`${error.message}\n${error.data?.stack ?? ''}`);
  return at === null ? undefined : Number(at[1]);
}

/** The reply's console, which holds every line; or what streamed in, when the reply has fewer (a cancel can lose the last ones). */
function showConsole(lines: string[]): void {
  consoleOut.textContent = (lines.length >= streamed.length ? lines : streamed).map((line) => `${line}\n`).join('');
}

function showUsage(time: number, usage: ExecutionResult['usage']): void {
  const figures: [string, string][] = [['time', `${time.toFixed(1)} ms`]];
  if (usage !== undefined) {
    figures.push(
      ['CPU', `${usage.cpuMs.toFixed(1)} ms`],
      ['heap grown', bytes(usage.heapBytes)],
      ['fetch requests', String(usage.fetchRequests)],
      ['fetch sent / received', `${bytes(usage.fetchBytesOut)} / ${bytes(usage.fetchBytesIn)}`],
      ['console', bytes(usage.consoleBytes)],
    );
  }
  usageOut.replaceChildren(
    ...figures.flatMap(([term, value]) => [
      Object.assign(document.createElement('dt'), { textContent: term }),
      Object.assign(document.createElement('dd'), { textContent: value }),
    ]),
  );
}

function bytes(count: number): string {
  return count < 1024 ? `${count} B` : `${(count / 1024).toFixed(1)} KiB`;
}
