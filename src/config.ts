// Settings, read once at start-up and passed down as a typed Config.
// SETTINGS is the single source: it makes the env parser, the JSON Schema of the
// CONFIG file (config.schema.json), and `--help`.
import { readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { computeSlots } from './compute-slots.js';
import { ANY, parseHostName, parseOrigin } from './transport/origin.js';

/** What one key (one secret) may do, and its limits. */
export interface KeyPolicy {
  name: string;
  secret: string | undefined;
  modules: string[];
  fetchAllow: string[];
  fetchAllowPrivate: string[];
  fetchMaxRequests: number;
  fetchMaxBytes: number;
  fetchTimeoutMs: number;
  timeoutMs: number;
  maxTimeoutMs: number;
  memoryLimitMb: number;
  poolSize: number;
  maxConcurrent: number;
  queueLimit: number;
  queueBytes: number;
  consoleLimitBytes: number;
  resultLimitBytes: number;
  executor: 'process' | 'container';
  sandboxImage: string;
  sandboxMemoryMb: number;
  sandboxCpus: number;
  sandboxPids: number;
  sandboxTmpfsMb: number;
}

export interface Config {
  port: number;
  /** undefined: all interfaces. */
  host: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  maxInFlight: number;
  maxFrameBytes: number;
  maxDepth: number;
  maxSourceBytes: number;
  maxSourceDepth: number;
  transformTimeoutMs: number;
  transformMemoryMb: number;
  maxConnections: number;
  headerTimeoutMs: number;
  handshakeTimeoutMs: number;
  maxUnsentBytes: number;
  unsentTimeoutMs: number;
  shutdownGraceMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  noLogs: boolean;
  allowNoSecret: boolean;
  metricsToken: string | undefined;
  /** Origins (as browsers send them) whose pages may open a WebSocket, or `*`; the daemon's own is always allowed. */
  allowedOrigins: string[];
  /** Host names (beside loopback ones) requests may be for, or `*`. */
  allowedHosts: string[];
  /** Serve the playground page at /playground. */
  playground: boolean;
  /** Where allowlisted modules are resolved; undefined: the global node_modules. */
  modulePath: string | undefined;
  moduleCache: string;
  keys: KeyPolicy[];
}

type PolicyField = Exclude<keyof KeyPolicy, 'name'>;
type ServerField = Exclude<keyof Config, 'keys'>;

interface Setting {
  env: string;
  /** 'key' settings belong to a key: in the CONFIG file they are set per key. */
  scope: 'server' | 'key';
  field: ServerField | PolicyField | 'keys';
  schema: Record<string, unknown>;
  /** A comma-separated list in the environment, an array in the CONFIG file. */
  list?: boolean;
  help: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const int = (minimum: number, fallback?: number) => ({
  type: 'integer',
  minimum,
  ...(fallback === undefined ? {} : { default: fallback }),
});
const text = { type: 'string', minLength: 1 };

export const SETTINGS: readonly Setting[] = [
  { env: 'PORT', scope: 'server', field: 'port', schema: { ...int(0, 8765), maximum: 65535 }, help: 'TCP port (0 picks a free one)' },
  {
    env: 'HOST',
    scope: 'server',
    field: 'host',
    schema: text,
    help: 'interface to listen on; default 127.0.0.1 while any key has no secret, else all interfaces',
  },
  { env: 'TLS_CERT', scope: 'server', field: 'tlsCert', schema: text, help: 'PEM certificate file: serve wss:// (needs TLS_KEY)' },
  { env: 'TLS_KEY', scope: 'server', field: 'tlsKey', schema: text, help: 'PEM private key file (needs TLS_CERT)' },
  {
    env: 'MAX_IN_FLIGHT',
    scope: 'server',
    field: 'maxInFlight',
    schema: int(1, 100),
    help: 'unanswered requests per connection before new ones get 1004 Busy',
  },
  {
    env: 'MAX_FRAME',
    scope: 'server',
    field: 'maxFrameBytes',
    schema: int(1024, 4194304),
    help: 'largest WebSocket message accepted, bytes; larger ones close the connection (1009); also the largest JSON-RPC batch reply, whose members that do not fit get 1005',
  },
  {
    env: 'MAX_DEPTH',
    scope: 'server',
    field: 'maxDepth',
    schema: { ...int(1, 128), maximum: 1000 },
    help: 'deepest nesting of arrays and objects in a frame; a deeper frame gets -32600 (also the deepest result a script may return)',
  },
  {
    env: 'MAX_SOURCE_BYTES',
    scope: 'server',
    field: 'maxSourceBytes',
    schema: int(1, 4194304),
    help: 'largest TypeScript or module source, UTF-8 bytes; a larger one is a 1000 RangeError before esbuild sees it',
  },
  {
    env: 'MAX_SOURCE_DEPTH',
    scope: 'server',
    field: 'maxSourceDepth',
    schema: { ...int(1, 1000), maximum: 100000 },
    help: 'deepest nesting of brackets ((), [], {} and template substitutions) in a TypeScript or module source; deeper is a 1000 RangeError before esbuild sees it',
  },
  {
    env: 'TRANSFORM_TIMEOUT',
    scope: 'server',
    field: 'transformTimeoutMs',
    schema: int(100, 10000),
    help: "time limit of one TypeScript or module transform, ms; past it esbuild's service is killed and restarted, and the transforms it had in hand run again alone (one that fails it again gets -32603)",
  },
  {
    env: 'TRANSFORM_MEMORY',
    scope: 'server',
    field: 'transformMemoryMb',
    schema: int(64, 512),
    help: "resident memory of esbuild's service, MB; past it the service is killed and restarted (the transforms it had in hand run again alone; one that fails it again gets -32603); past three quarters of it, stopped once idle",
  },
  {
    env: 'MAX_CONNECTIONS',
    scope: 'server',
    field: 'maxConnections',
    schema: int(1, 10000),
    help: 'open TCP connections (WebSocket and HTTP); more are closed as they arrive',
  },
  {
    env: 'HEADER_TIMEOUT',
    scope: 'server',
    field: 'headerTimeoutMs',
    schema: int(100, 10000),
    help: 'time a new connection has to send its complete HTTP request headers (a TLS handshake included), ms; only a WebSocket stays open longer',
  },
  {
    env: 'HANDSHAKE_TIMEOUT',
    scope: 'server',
    field: 'handshakeTimeoutMs',
    schema: int(100, 10000),
    help: 'time a new WebSocket has to send its first frame (the Duplex handshake or a JSON-RPC request), ms',
  },
  {
    env: 'MAX_UNSENT',
    scope: 'server',
    field: 'maxUnsentBytes',
    schema: int(65536, 8388608),
    help: "a connection's unsent reply bytes (a batch's counted as they are made) above which its frames are not read and its queued executions wait; 4 times as many close it",
  },
  {
    env: 'UNSENT_TIMEOUT',
    scope: 'server',
    field: 'unsentTimeoutMs',
    schema: int(100, 30000),
    help: 'how long a connection may stay above MAX_UNSENT before it is closed, ms',
  },
  {
    env: 'SHUTDOWN_GRACE',
    scope: 'server',
    field: 'shutdownGraceMs',
    schema: int(0, 30000),
    help: 'on SIGTERM/SIGINT, how long queued work may still start, ms',
  },
  {
    env: 'LOG_LEVEL',
    scope: 'server',
    field: 'logLevel',
    schema: { type: 'string', enum: LOG_LEVELS, default: 'info' },
    help: 'pino log level',
  },
  { env: 'NOLOGS', scope: 'server', field: 'noLogs', schema: { type: 'boolean', default: false }, help: 'true: write no logs at all' },
  {
    env: 'ALLOW_NO_SECRET',
    scope: 'server',
    field: 'allowNoSecret',
    schema: { type: 'boolean', default: true },
    help: 'false: refuse to start while a key has no secret (the container image sets false)',
  },
  {
    env: 'METRICS_TOKEN',
    scope: 'server',
    field: 'metricsToken',
    schema: text,
    help: 'if set, GET /metrics needs "Authorization: Bearer TOKEN"; if not, /metrics is off (403) while any key has a secret',
  },
  {
    env: 'ALLOWED_ORIGINS',
    scope: 'server',
    field: 'allowedOrigins',
    list: true,
    schema: text,
    help: "origins (scheme://host[:port]) of web pages that may open a WebSocket besides the daemon's own, comma-separated, or * for any; a page on any other gets 403, secret or not",
  },
  {
    env: 'ALLOWED_HOSTS',
    scope: 'server',
    field: 'allowedHosts',
    list: true,
    schema: text,
    help: "host names a request's Host may give besides loopback ones (localhost, *.localhost, 127.0.0.0/8, [::1]), comma-separated, or * for any; checked while listening on loopback, or anywhere once set: others get 403",
  },
  {
    env: 'PLAYGROUND',
    scope: 'server',
    field: 'playground',
    schema: { type: 'boolean', default: false },
    help: "true: serve a page at /playground to try scripts from a browser (it runs nothing without a key's secret)",
  },
  {
    env: 'MODULE_PATH',
    scope: 'server',
    field: 'modulePath',
    schema: text,
    help: 'node_modules folder allowlisted modules are taken from (default: the global one, npm root -g)',
  },
  {
    env: 'MODULE_CACHE',
    scope: 'server',
    field: 'moduleCache',
    schema: { ...text, default: join(tmpdir(), 'javascriptd-modules') },
    help: 'folder for bundled modules and their V8 code cache, written at start-up where missing',
  },
  { env: 'SECRET', scope: 'key', field: 'secret', schema: text, help: 'shared secret clients send in the x-runtime-secret header' },
  {
    env: 'MODULES',
    scope: 'key',
    field: 'modules',
    list: true,
    schema: text,
    help: "modules scripts may require, comma-separated (e.g. lodash,dayjs); with EXECUTOR=container, default: all of SANDBOX_IMAGE's",
  },
  {
    env: 'FETCH_ALLOW',
    scope: 'key',
    field: 'fetchAllow',
    list: true,
    schema: text,
    help: 'fetch rules "METHOD URL-pattern", comma-separated; nothing is allowed without one',
  },
  {
    env: 'FETCH_ALLOW_PRIVATE',
    scope: 'key',
    field: 'fetchAllowPrivate',
    list: true,
    schema: text,
    help: 'host names fetch may reach at loopback/private/link-local addresses',
  },
  {
    env: 'FETCH_MAX_REQUESTS',
    scope: 'key',
    field: 'fetchMaxRequests',
    schema: int(0, 20),
    help: 'fetch requests one execution may make (redirects count, and so do requests the policy refuses)',
  },
  {
    env: 'FETCH_MAX_BYTES',
    scope: 'key',
    field: 'fetchMaxBytes',
    schema: int(0, 5242880),
    help: 'request body bytes one execution may send in all, and response body bytes it may receive in all',
  },
  {
    env: 'FETCH_TIMEOUT',
    scope: 'key',
    field: 'fetchTimeoutMs',
    schema: int(1, 10000),
    help: "time limit of one fetch, ms (never past the execution's own)",
  },
  { env: 'TIMEOUT', scope: 'key', field: 'timeoutMs', schema: int(1, 3000), help: 'time limit of an execution that sets no timeout, ms' },
  { env: 'MAX_TIMEOUT', scope: 'key', field: 'maxTimeoutMs', schema: int(1, 30000), help: 'largest timeout a script may ask for, ms' },
  {
    env: 'MEMORY_LIMIT',
    scope: 'key',
    field: 'memoryLimitMb',
    schema: int(8, 128),
    help: 'heap limit of one execution (each runs in an isolate of its own), MB',
  },
  {
    env: 'POOL_SIZE',
    scope: 'key',
    field: 'poolSize',
    schema: { ...int(1), maximum: 256 },
    help: 'sandbox processes, each running many executions side by side, each in an isolate of its own (default: number of cores)',
  },
  {
    env: 'MAX_CONCURRENT',
    scope: 'key',
    field: 'maxConcurrent',
    schema: { ...int(1, 256), maximum: 10000 },
    help: 'executions running at once, waiting ones included (a connection at most a quarter of them); more wait in the queue',
  },
  {
    env: 'QUEUE_LIMIT',
    scope: 'key',
    field: 'queueLimit',
    schema: int(0, 1000),
    help: 'executions waiting for a sandbox; past it, a connection holding more of the queue than the newcomer loses its newest (1004), else the newcomer gets 1004',
  },
  {
    env: 'QUEUE_BYTES',
    scope: 'key',
    field: 'queueBytes',
    schema: int(1024, 67108864),
    help: 'bytes of requests waiting for a sandbox, counted as their frames (a batch member as its own text); shared like QUEUE_LIMIT',
  },
  {
    env: 'CONSOLE_LIMIT',
    scope: 'key',
    field: 'consoleLimitBytes',
    schema: int(0, 262144),
    help: 'console output kept per execution, bytes (each line counts one more); the rest is dropped and counted',
  },
  {
    env: 'RESULT_LIMIT',
    scope: 'key',
    field: 'resultLimitBytes',
    schema: int(2, 1048576),
    help: 'largest result value as JSON, bytes; larger gives 1005',
  },
  {
    env: 'EXECUTOR',
    scope: 'key',
    field: 'executor',
    schema: { type: 'string', enum: ['process', 'container'], default: 'process' },
    help: 'where executions run: "process" (sandbox processes here) or "container" (sandbox containers, with Docker)',
  },
  {
    env: 'SANDBOX_IMAGE',
    scope: 'key',
    field: 'sandboxImage',
    schema: { ...text, default: 'javascriptd:latest' },
    help: 'with EXECUTOR=container: the runtime image sandbox containers run',
  },
  {
    env: 'SANDBOX_MEMORY',
    scope: 'key',
    field: 'sandboxMemoryMb',
    schema: int(32),
    help: "memory budget of one sandbox, MB: past three quarters of it a sandbox takes no new execution and is replaced once idle; past all of it, it is killed (its executions get 1003 or run again); a container's memory limit (default: (executions a sandbox computes at once + 1) x MEMORY_LIMIT + 128, at least 384; with the default POOL_SIZE, 4 x MEMORY_LIMIT + 128)",
  },
  {
    env: 'SANDBOX_CPUS',
    scope: 'key',
    field: 'sandboxCpus',
    schema: { type: 'number', exclusiveMinimum: 0, default: 1 },
    help: 'with EXECUTOR=container: CPUs a sandbox container may use',
  },
  {
    env: 'SANDBOX_PIDS',
    scope: 'key',
    field: 'sandboxPids',
    schema: int(8, 64),
    help: 'with EXECUTOR=container: processes and threads a sandbox container may have',
  },
  {
    env: 'SANDBOX_TMPFS',
    scope: 'key',
    field: 'sandboxTmpfsMb',
    schema: int(1, 16),
    help: 'with EXECUTOR=container: size of its /tmp tmpfs, MB',
  },
  {
    env: 'CONFIG',
    scope: 'server',
    field: 'keys',
    schema: text,
    help: 'JSON file defining several keys, each with its own secret, modules, fetch rules and limits',
  },
];

const SERVER = SETTINGS.filter((s) => s.scope === 'server' && s.env !== 'CONFIG');
const POLICY = SETTINGS.filter((s) => s.scope === 'key');
/** Settings a CONFIG file must give per key rather than leave to the environment. */
const PER_KEY_ONLY = new Set(['SECRET', 'MODULES', 'FETCH_ALLOW', 'FETCH_ALLOW_PRIVATE']);

/** A setting's name in the CONFIG file: its environment name in camelCase (MEMORY_LIMIT: memoryLimit). */
const fileName = (s: Setting) => s.env.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const withoutDefault = ({ default: _, ...schema }: Record<string, unknown>) => schema;
const fileSchemaOf = (s: Setting) => (s.list ? { type: 'array', items: s.schema } : withoutDefault(s.schema));

/** JSON Schema of the CONFIG file; config.schema.json at the package root is this, written out. */
export const CONFIG_FILE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'javascriptd CONFIG file',
  type: 'object',
  additionalProperties: false,
  required: ['keys'],
  properties: {
    keys: {
      description: "One entry per key, by name. A connection presenting a key's secret gets its policy.",
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,64}$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...Object.fromEntries(POLICY.map((s) => [fileName(s), { ...fileSchemaOf(s), description: s.help }])),
          secretEnv: { ...text, description: 'environment variable holding the secret (instead of secret)' },
        },
        not: { required: ['secret', 'secretEnv'] },
      },
    },
  },
};

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid settings:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const envSchema = (settings: readonly Setting[]) => ({
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(settings.map((s) => [s.field, s.list ? { type: 'array', items: s.schema } : s.schema])),
});

interface Validators {
  server: ValidateFunction;
  policy: ValidateFunction;
  file: ValidateFunction;
}
let compiled: Validators | undefined;

/** ajv, loaded and compiled on the first read: --help and `health` need SETTINGS only. */
function validators(): Validators {
  if (compiled !== undefined) return compiled;
  const { default: Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true });
  compiled = {
    server: ajv.compile({ ...envSchema(SERVER), dependencies: { tlsCert: ['tlsKey'], tlsKey: ['tlsCert'] } }),
    policy: ajv.compile(envSchema(POLICY)),
    file: new Ajv({ allErrors: true }).compile(CONFIG_FILE_SCHEMA),
  };
  return compiled;
}

const envName = new Map<string, string>(SETTINGS.map((s) => [s.field, s.env]));

function describe(prefix: string, error: ErrorObject): string {
  if (error.keyword === 'dependencies') {
    const params = error.params as { property: string; missingProperty: string };
    return `${envName.get(params.property)} needs ${envName.get(params.missingProperty)}`;
  }
  const field = error.instancePath.split('/')[1] ?? '';
  return `${prefix}${envName.get(field) ?? (error.instancePath || 'settings')} ${error.message ?? 'is invalid'}`;
}

/** The environment's values for `settings`, lists split on commas. */
function fromEnv(env: NodeJS.ProcessEnv, settings: readonly Setting[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const s of settings) {
    const value = env[s.env];
    if (value === undefined || value === '') continue;
    raw[s.field] = s.list
      ? value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== '')
      : value;
  }
  return raw;
}

/** A key from values ajv has validated and filled with defaults; lists default to empty (nothing allowed). */
function asPolicy(name: string, values: Record<string, unknown>): KeyPolicy {
  const policy = { name, modules: [], fetchAllow: [], fetchAllowPrivate: [], ...values } as unknown as KeyPolicy;
  // A sandbox holds Node itself, its idle and waiting isolates, and the heaps of those computing, each up to MEMORY_LIMIT.
  const { computing } = computeSlots(policy.poolSize ?? availableParallelism());
  policy.sandboxMemoryMb ??= Math.max(384, (computing + 1) * policy.memoryLimitMb + 128);
  return policy;
}

function checkPolicy(name: string, policy: KeyPolicy, problems: string[]): void {
  const where = name === 'default' ? '' : `key "${name}": `;
  if (policy.timeoutMs > policy.maxTimeoutMs) problems.push(`${where}TIMEOUT must not exceed MAX_TIMEOUT`);
}

/** Each entry in the form requests are compared in; a problem, echoing it, for each that is not an origin or host name. */
function checkBrowserLists(server: Record<string, unknown>, problems: string[]): void {
  const lists = [
    {
      field: 'allowedOrigins',
      env: 'ALLOWED_ORIGINS',
      parse: parseOrigin,
      form: 'an origin, scheme://host[:port] without a path (e.g. https://app.example)',
    },
    {
      field: 'allowedHosts',
      env: 'ALLOWED_HOSTS',
      parse: parseHostName,
      form: 'a host name or IP address without scheme or port (e.g. javascriptd.internal)',
    },
  ];
  for (const { field, env, parse, form } of lists) {
    const entries = (server[field] as string[] | undefined) ?? [];
    server[field] = entries.map((entry) => {
      const parsed = entry === ANY ? ANY : parse(entry);
      if (parsed === undefined) problems.push(`${env}: ${JSON.stringify(entry)} is not ${form}, nor ${ANY} for any`);
      return parsed ?? entry;
    });
  }
}

/** A connection is closed once its unsent replies pass 4 x MAX_UNSENT: one reply must fit well below that. */
function checkUnsent(server: Record<string, unknown>, keys: readonly KeyPolicy[], problems: string[]): void {
  const { maxUnsentBytes, maxFrameBytes } = server as { maxUnsentBytes?: number; maxFrameBytes?: number };
  if (maxUnsentBytes === undefined || maxFrameBytes === undefined) return;
  const largestReply = Math.max(...keys.map((k) => k.resultLimitBytes + k.consoleLimitBytes)) + maxFrameBytes;
  if (4 * maxUnsentBytes < 2 * largestReply)
    problems.push(`MAX_UNSENT must be at least ${Math.ceil(largestReply / 2)} (half of MAX_FRAME + RESULT_LIMIT + CONSOLE_LIMIT)`);
}

/**
 * Reads the settings from `env` (and the CONFIG file it names): the settings as far
 * as they could be read, and every problem found, so that the keys' modules and
 * fetch rules can be checked too before the daemon refuses to start.
 */
export function readConfig(env: NodeJS.ProcessEnv): { config: Config; problems: string[] } {
  const problems: string[] = [];
  const { server: validateServer, policy: validatePolicy } = validators();
  const server = fromEnv(env, SERVER);
  if (!validateServer(server)) problems.push(...(validateServer.errors ?? []).map((e) => describe('', e)));
  checkBrowserLists(server, problems);
  const defaults = fromEnv(env, POLICY);
  if (!validatePolicy(defaults)) problems.push(...(validatePolicy.errors ?? []).map((e) => describe('', e)));
  defaults.poolSize ??= availableParallelism();

  const keys: KeyPolicy[] = [];
  if (env.CONFIG === undefined || env.CONFIG === '') {
    keys.push(asPolicy('default', defaults));
  } else {
    for (const s of POLICY)
      if (PER_KEY_ONLY.has(s.env) && env[s.env] !== undefined)
        problems.push(`${s.env} cannot be combined with CONFIG: set it per key in the file`);
    keys.push(...readKeys(env.CONFIG, env, defaults, problems));
  }
  for (const key of keys) checkPolicy(key.name, key, problems);
  if (keys.length > 0) checkUnsent(server, keys, problems);
  const secrets = keys.map((k) => k.secret).filter((s) => s !== undefined);
  if (new Set(secrets).size !== secrets.length) problems.push('two keys have the same secret');
  if (keys.filter((k) => k.secret === undefined).length > 1) problems.push('at most one key may have no secret');
  if (server.allowNoSecret === false && keys.some((k) => k.secret === undefined)) {
    problems.push('no SECRET is set: set SECRET (or give every CONFIG key one), or ALLOW_NO_SECRET=true to run without');
  }
  const config = { ...server, keys } as unknown as Config;
  config.host ??= keys.some((k) => k.secret === undefined) ? '127.0.0.1' : undefined;
  return { config, problems };
}

function readKeys(path: string, env: NodeJS.ProcessEnv, defaults: Record<string, unknown>, problems: string[]): KeyPolicy[] {
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    problems.push(`CONFIG ${path}: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
  const validateFile = validators().file;
  if (!validateFile(file)) {
    problems.push(...(validateFile.errors ?? []).map((e) => `CONFIG ${path}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}`));
    return [];
  }
  const entries = Object.entries((file as { keys: Record<string, Record<string, unknown>> }).keys);
  return entries.map(([name, given]) => {
    const values: Record<string, unknown> = { ...defaults };
    for (const s of POLICY) if (given[fileName(s)] !== undefined) values[s.field] = given[fileName(s)];
    const { secretEnv } = given;
    if (secretEnv !== undefined) values.secret = env[String(secretEnv)];
    if (secretEnv !== undefined && !values.secret)
      problems.push(`key "${name}": environment variable ${String(secretEnv)} (secretEnv) is not set`);
    return asPolicy(name, values);
  });
}
