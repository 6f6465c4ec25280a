// The operations between an isolate and its sandbox process, in one typed
// table: what the prelude reports (src/prelude/host.js `host`), what it asks
// and gets an answer to (`hostSync`), and what the sandbox enters it with
// (`enter` in src/prelude/prelude.js). What comes out of the isolate is
// untrusted: each report and ask is checked against its shape here before
// anything acts on it.

/** Reports from the isolate: console, timers, fetches and the outcome. */
export interface Reports {
  log: [line: string];
  /** Lines dropped in the isolate past CONSOLE_LIMIT so far. */
  dropped: [lines: number, bytes: number];
  set: [timer: number, delayMs: number];
  clear: [timer: number];
  value: [json: string];
  'too-large': [bytes: number];
  error: [name: string, message: string, stack: string];
  require: [module: string];
  missing: [];
  fetch: [id: number, method: string, url: string, headersJson: string, body: Uint8Array | null, redirect: string];
  'abort-fetch': [id: number];
}

/** Synchronous asks from the isolate, and what each is answered with. */
export interface Asks {
  random: { args: [bytes: number]; answer: Uint8Array };
  digest: { args: [algorithm: string, data: Uint8Array]; answer: Uint8Array };
  /** Answered once the host has taken the isolate's earlier reports (flow control). */
  barrier: { args: []; answer: undefined };
  /** With shared module instances: the isolate's library realm's modules, made now if need be (library-realm.ts). */
  library: { args: []; answer: unknown };
}

/** What the sandbox enters the isolate with. */
export interface Entries {
  begin: [deadlineAt: number, globalsJson: string | null];
  start: [completion: unknown, call: string | null, caller: string | null];
  /** Entered by a module's entry (module-entry.ts) once its evaluation is over, not by the sandbox itself. */
  'start-module': [namespace: unknown, call: string | null, caller: string | null];
  fire: [timer: number];
  fetched: [id: number, response: unknown];
  'fetch-failed': [id: number, message: string];
}

type Shape = 'string' | 'number' | 'bytes' | 'bytes?';

const is = (value: unknown, shape: Shape): boolean =>
  shape === 'bytes'
    ? value instanceof Uint8Array
    : shape === 'bytes?'
      ? value === null || value instanceof Uint8Array
      : typeof value === shape;

const REPORTS: { [K in keyof Reports]: Shape[] } = {
  log: ['string'],
  dropped: ['number', 'number'],
  set: ['number', 'number'],
  clear: ['number'],
  value: ['string'],
  'too-large': ['number'],
  error: ['string', 'string', 'string'],
  require: ['string'],
  missing: [],
  fetch: ['number', 'string', 'string', 'string', 'bytes?', 'string'],
  'abort-fetch': ['number'],
};

const ASKS: { [K in keyof Asks]: Shape[] } = {
  random: ['number'],
  digest: ['string', 'bytes'],
  barrier: [],
  library: [],
};

/** A report of the shape its op says, or undefined for anything else. */
export type Report = { [K in keyof Reports]: { op: K; args: Reports[K] } }[keyof Reports];
export type Ask = { [K in keyof Asks]: { op: K; args: Asks[K]['args'] } }[keyof Asks];

export function asReport(op: unknown, args: unknown[]): Report | undefined {
  return typeof op === 'string' && Object.hasOwn(REPORTS, op) && fits(args, REPORTS[op as keyof Reports])
    ? ({ op, args } as Report)
    : undefined;
}

export function asAsk(op: unknown, args: unknown[]): Ask | undefined {
  return typeof op === 'string' && Object.hasOwn(ASKS, op) && fits(args, ASKS[op as keyof Asks]) ? ({ op, args } as Ask) : undefined;
}

/** The arguments of an entry, as the `enter` call takes them. */
export function entry<K extends keyof Entries>(op: K, ...args: Entries[K]): unknown[] {
  return [op, ...args];
}

function fits(args: unknown[], shapes: readonly Shape[]): boolean {
  return shapes.every((shape, i) => is(args[i], shape));
}
