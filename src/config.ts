// Settings: read from the environment once, validated with one ajv schema, then
// passed down as a typed Config. The SETTINGS table also feeds `--help`.
import { availableParallelism } from 'node:os';
import Ajv, { type ErrorObject } from 'ajv';

export interface Config {
  port: number;
  /** undefined: all interfaces. */
  host: string | undefined;
  secret: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  timeoutMs: number;
  maxTimeoutMs: number;
  memoryLimitMb: number;
  poolSize: number;
  queueLimit: number;
  maxInFlight: number;
  maxFrameBytes: number;
  consoleLimitBytes: number;
  resultLimitBytes: number;
  shutdownGraceMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  noLogs: boolean;
}

interface Setting {
  env: string;
  key: keyof Config;
  schema: Record<string, unknown>;
  help: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export const SETTINGS: readonly Setting[] = [
  { env: 'PORT', key: 'port', schema: { type: 'integer', minimum: 0, maximum: 65535, default: 8765 }, help: 'TCP port (0 picks a free one)' },
  { env: 'HOST', key: 'host', schema: { type: 'string', minLength: 1 }, help: 'interface to listen on; without SECRET the default is 127.0.0.1, with SECRET all interfaces' },
  { env: 'SECRET', key: 'secret', schema: { type: 'string', minLength: 1 }, help: 'shared secret clients send in the x-runtime-secret header' },
  { env: 'TLS_CERT', key: 'tlsCert', schema: { type: 'string', minLength: 1 }, help: 'PEM certificate file: serve wss:// (needs TLS_KEY)' },
  { env: 'TLS_KEY', key: 'tlsKey', schema: { type: 'string', minLength: 1 }, help: 'PEM private key file (needs TLS_CERT)' },
  { env: 'TIMEOUT', key: 'timeoutMs', schema: { type: 'integer', minimum: 1, default: 3000 }, help: 'time limit of an execution that sets no timeout, ms' },
  { env: 'MAX_TIMEOUT', key: 'maxTimeoutMs', schema: { type: 'integer', minimum: 1, default: 30000 }, help: 'largest timeout a script may ask for, ms' },
  { env: 'MEMORY_LIMIT', key: 'memoryLimitMb', schema: { type: 'integer', minimum: 8, default: 128 }, help: 'heap limit of each isolate, MB' },
  { env: 'POOL_SIZE', key: 'poolSize', schema: { type: 'integer', minimum: 1, maximum: 256 }, help: 'isolates running executions in parallel (default: number of cores)' },
  { env: 'QUEUE_LIMIT', key: 'queueLimit', schema: { type: 'integer', minimum: 0, default: 1000 }, help: 'executions waiting for an isolate before new ones get 1004 Busy' },
  { env: 'MAX_IN_FLIGHT', key: 'maxInFlight', schema: { type: 'integer', minimum: 1, default: 100 }, help: 'unanswered requests per connection before new ones get 1004 Busy' },
  { env: 'MAX_FRAME', key: 'maxFrameBytes', schema: { type: 'integer', minimum: 1024, default: 4194304 }, help: 'largest WebSocket message accepted, bytes; larger ones close the connection (1009)' },
  { env: 'CONSOLE_LIMIT', key: 'consoleLimitBytes', schema: { type: 'integer', minimum: 0, default: 262144 }, help: 'console output kept per execution, bytes; the rest is dropped and counted' },
  { env: 'RESULT_LIMIT', key: 'resultLimitBytes', schema: { type: 'integer', minimum: 2, default: 1048576 }, help: 'largest result value as JSON, bytes; larger gives 1005' },
  { env: 'SHUTDOWN_GRACE', key: 'shutdownGraceMs', schema: { type: 'integer', minimum: 0, default: 30000 }, help: 'on SIGTERM/SIGINT, how long queued work may still start, ms' },
  { env: 'LOG_LEVEL', key: 'logLevel', schema: { type: 'string', enum: LOG_LEVELS, default: 'info' }, help: 'pino log level' },
  { env: 'NOLOGS', key: 'noLogs', schema: { type: 'boolean', default: false }, help: 'true: write no logs at all' },
];

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid settings:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(SETTINGS.map((s) => [s.key, s.schema])),
  dependencies: { tlsCert: ['tlsKey'], tlsKey: ['tlsCert'] },
};

const validate = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true }).compile(schema);

const envName = new Map<string, string>(SETTINGS.map((s) => [s.key, s.env]));

function describe(error: ErrorObject): string {
  if (error.keyword === 'dependencies') {
    const params = error.params as { property: string; missingProperty: string };
    return `${envName.get(params.property)} needs ${envName.get(params.missingProperty)}`;
  }
  return `${envName.get(error.instancePath.slice(1)) ?? 'settings'} ${error.message ?? 'is invalid'}`;
}

/** Reads the settings from `env`; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const raw: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const value = env[setting.env];
    if (value !== undefined && value !== '') raw[setting.key] = value;
  }
  if (!validate(raw)) {
    throw new ConfigError((validate.errors ?? []).map(describe));
  }
  const config = raw as unknown as Config;
  if (config.timeoutMs > config.maxTimeoutMs) throw new ConfigError(['TIMEOUT must not exceed MAX_TIMEOUT']);
  config.poolSize ??= availableParallelism();
  config.host ??= config.secret === undefined ? '127.0.0.1' : undefined;
  return config;
}
