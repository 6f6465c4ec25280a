// The `javascriptd` command. `serve` (the default) runs the daemon, configured
// from the environment (see SETTINGS in config.ts, also printed by --help).
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_FILE_SCHEMA, ConfigError, loadConfig, SETTINGS } from './config.js';
import { Daemon, prepareKeys } from './daemon.js';
import { compilePrelude } from './sandbox/isolate-worker.js';
import { buildImages } from './images.js';
import { createLogger } from './log.js';

const OPTIONS = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  version: { type: 'boolean', short: 'v', description: 'print the version' },
} as const;

function usage(): string {
  const options = Object.entries(OPTIONS).map(([name, o]) => `  -${o.short}, --${name.padEnd(10)} ${o.description}`);
  const settings = (scope: 'server' | 'key') =>
    SETTINGS.filter((s) => s.scope === scope).map((s) => {
      const fallback = (s.schema as { default?: unknown }).default;
      return `  ${s.env.padEnd(20)} ${s.help}${fallback === undefined ? '' : ` [${String(fallback)}]`}`;
    });
  return [
    'Usage: javascriptd [serve] [options]',
    '       javascriptd schema          print the JSON Schema of the CONFIG file',
    '       javascriptd health          exit 0 if the daemon on PORT answers /healthz (for HEALTHCHECK)',
    '       javascriptd prepare         bundle MODULES into MODULE_CACHE now (runtime images do this at build time)',
    '       javascriptd images build [NAME]  build the javascriptd image and the runtime images with Docker',
    '',
    'Runs the javascriptd daemon: runtime.execute over Duplex or JSON-RPC 2.0 on a WebSocket.',
    '',
    'Options:',
    ...options,
    '',
    'Settings (environment variables):',
    ...settings('server'),
    '',
    'Settings of a key (environment variables for the single key; per key in a CONFIG file, in camelCase):',
    ...settings('key'),
    '',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function serve(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger(config);
  const daemon = await Daemon.start(config, log);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received');
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Asks the local daemon's /healthz; exits 0 when it answers 200. */
async function health(): Promise<void> {
  const tls = (process.env.TLS_CERT ?? '') !== '';
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${process.env.PORT || 8765}/healthz`;
  const status = await new Promise<number>((resolve) => {
    // The certificate names the service, not 127.0.0.1; this only asks our own process.
    const request = (tls ? httpsGet : httpGet)(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    request.on('error', () => resolve(0));
    request.on('timeout', () => request.destroy());
  });
  process.stdout.write(`${url}: ${status === 0 ? 'no answer' : status}\n`);
  process.exit(status === 200 ? 0 : 1);
}

/** Bundles every key's modules and writes their prelude code caches, so a container starts ready. */
async function prepare(): Promise<void> {
  // Nothing is served here, so a missing secret does not matter.
  const config = loadConfig({ ...process.env, ALLOW_NO_SECRET: 'true' });
  const log = createLogger(config);
  const { keys } = await prepareKeys(config);
  for (const { key, modules, outbound } of keys) {
    await compilePrelude(modules, config.moduleCache, log);
    await outbound.close();
    log.info({ key: key.name, modules: modules.map((m) => `${m.name}@${m.version}`), cache: config.moduleCache }, 'prepared');
  }
}

const COMMANDS = {
  serve,
  health,
  prepare,
  schema: async () => void process.stdout.write(`${JSON.stringify(CONFIG_FILE_SCHEMA, null, 2)}\n`),
};

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  if (values.help) return void process.stdout.write(usage());
  if (values.version) return void process.stdout.write(`${version()}\n`);
  const [command = 'serve', ...rest] = positionals;
  if (command === 'images' && rest[0] === 'build' && rest.length <= 2) {
    const built = await buildImages(rest[1], process.stdout);
    process.stdout.write(`built ${built.join(', ')}\n`);
    return;
  }
  if (rest.length > 0 || !(command in COMMANDS)) throw new UsageError(`unknown command: ${positionals.join(' ')}`);
  await COMMANDS[command as keyof typeof COMMANDS]();
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`javascriptd: ${error.message}\n`);
  else if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`javascriptd: ${error.message}\n\n${usage()}`);
  } else process.stderr.write(`javascriptd: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ConfigError || error instanceof UsageError ? 2 : 1);
});
