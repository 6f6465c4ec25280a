// Reading the settings once at start-up: the environment (and the CONFIG file it
// names) validated with ajv against the settings table, into a typed Config, with
// the checks that span several settings.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { computeSlots } from '../compute-slots.js';
import { ANY, parseHostName, parseOrigin } from '../transport/origin.js';
import { CONFIG_FILE_SCHEMA, fileName } from './config-file-schema.js';
import { KEY_SETTINGS } from './key-settings.js';
import { lookalikeWarnings } from './lookalikes.js';
import { booleanWord, brokenRule } from './problem-text.js';
import { SERVER_SETTINGS } from './server-settings.js';
import { SETTINGS } from './settings.js';
import type { Config, KeyPolicy, Setting } from './types.js';

/** Settings a CONFIG file must give per key rather than leave to the environment. */
const PER_KEY_ONLY = new Set(['SECRET', 'MODULES', 'FETCH_ALLOW', 'FETCH_ALLOW_PRIVATE']);

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

/**
 * ajv, loaded and compiled on the first read, not on import: --help and `health`
 * load only the settings table, and what imports this file pays for ajv when it reads.
 */
function validators(): Validators {
  if (compiled !== undefined) return compiled;
  const { default: Ajv } = require('ajv') as typeof import('ajv');
  // verbose: each error holds the value it is about, which the problem echoes.
  const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, verbose: true });
  compiled = {
    server: ajv.compile({ ...envSchema(SERVER_SETTINGS), dependencies: { tlsCert: ['tlsKey'], tlsKey: ['tlsCert'] } }),
    policy: ajv.compile(envSchema(KEY_SETTINGS)),
    file: new Ajv({ allErrors: true, verbose: true }).compile(CONFIG_FILE_SCHEMA),
  };
  return compiled;
}

const envName = new Map<string, string>(SETTINGS.map((s) => [s.field, s.env]));
/** Values never echoed in a problem (in a CONFIG file, by their camelCase names). */
const HIDDEN = new Set(['secret', 'metricsToken']);

function describe(error: ErrorObject): string {
  if (error.keyword === 'dependencies') {
    const params = error.params as { property: string; missingProperty: string };
    return `${envName.get(params.property)} needs ${envName.get(params.missingProperty)}`;
  }
  const field = error.instancePath.split('/')[1] ?? '';
  return `${envName.get(field) ?? (error.instancePath || 'settings')} ${brokenRule(error, HIDDEN.has(field))}`;
}

/** A problem of the CONFIG file at `path`, by its place in the file (/keys/ci/timeout). */
function describeInFile(path: string, error: ErrorObject): string {
  const hidden = error.instancePath.split('/').some((part) => HIDDEN.has(part));
  return `CONFIG ${path}: ${error.instancePath || '/'} ${brokenRule(error, hidden)}`;
}

/** The environment's values for `settings`: lists split on commas, booleans' spellings (on, 1, …) made true or false. */
function fromEnv(env: NodeJS.ProcessEnv, settings: readonly Setting[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const s of settings) {
    const value = env[s.env];
    if (value === undefined || value === '') continue;
    if (s.schema.type === 'boolean') raw[s.field] = booleanWord(value);
    else
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
  if (policy.timeoutMs > policy.maxTimeoutMs)
    problems.push(`${where}TIMEOUT must not exceed MAX_TIMEOUT, got ${policy.timeoutMs} and ${policy.maxTimeoutMs}`);
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
 * fetch rules can be checked too before the daemon refuses to start; and a
 * warning for each variable that looks like a setting but is none.
 */
export function readConfig(env: NodeJS.ProcessEnv): { config: Config; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const { server: validateServer, policy: validatePolicy } = validators();
  const server = fromEnv(env, SERVER_SETTINGS);
  if (!validateServer(server)) problems.push(...(validateServer.errors ?? []).map(describe));
  checkBrowserLists(server, problems);
  const defaults = fromEnv(env, KEY_SETTINGS);
  if (!validatePolicy(defaults)) problems.push(...(validatePolicy.errors ?? []).map(describe));
  defaults.poolSize ??= availableParallelism();

  const keys: KeyPolicy[] = [];
  if (env.CONFIG === undefined || env.CONFIG === '') {
    keys.push(asPolicy('default', defaults));
  } else {
    for (const s of KEY_SETTINGS)
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
  return { config, problems, warnings: lookalikeWarnings(env, SETTINGS) };
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
    problems.push(...(validateFile.errors ?? []).map((e) => describeInFile(path, e)));
    return [];
  }
  const entries = Object.entries((file as { keys: Record<string, Record<string, unknown>> }).keys);
  return entries.map(([name, given]) => {
    const values: Record<string, unknown> = { ...defaults };
    for (const s of KEY_SETTINGS) if (given[fileName(s)] !== undefined) values[s.field] = given[fileName(s)];
    const { secretEnv } = given;
    if (secretEnv !== undefined) values.secret = env[String(secretEnv)];
    if (secretEnv !== undefined && !values.secret)
      problems.push(`key "${name}": environment variable ${String(secretEnv)} (secretEnv) is not set`);
    return asPolicy(name, values);
  });
}
