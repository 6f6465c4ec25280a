// The commands that run or prepare a daemon: serve (the default), health,
// prepare, schema, images build. Each loads what it uses when it runs: `health`,
// the image's HEALTHCHECK every 10 s, and --help load neither the daemon nor
// isolated-vm, esbuild or ajv (node:http(s) are Node's own and cheap: an import()
// would start the ES module loader, which costs more).
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { CONFIG_FILE_SCHEMA } from '../config/config-file-schema.js';
import { BOOLEAN_WORDS } from '../config/problem-text.js';
import { SETTINGS } from '../config/settings.js';
import { defaultOf } from '../config/settings-doc.js';
import { type Command, UsageError } from './command.js';
import { EXIT } from './run-command.js';

/**
 * Exit codes of the daemon's own commands (and of an unsupported Node: 2, see
 * supported-node.ts). `run` has javascriptd-client's table, EXIT: 0, 1 and 5
 * mean the same there, but its 2 is "not implemented" (1001).
 */
export const DAEMON_EXIT = { ok: 0, failed: 1, invalidSettings: 2, usage: EXIT.usage } as const;

function settingsHelp(): string[] {
  const settings = (scope: 'server' | 'key') =>
    SETTINGS.filter((s) => s.scope === scope).map((s) => {
      const fallback = defaultOf(s);
      return `  ${s.env.padEnd(20)} ${s.help}${fallback === undefined ? '' : ` [${fallback}]`}`;
    });
  return [
    '',
    `Settings (environment variables; a boolean is true or false, also ${BOOLEAN_WORDS.true.slice(1).join('/')} or ${BOOLEAN_WORDS.false.slice(1).join('/')}):`,
    ...settings('server'),
    '',
    'Settings of a key (environment variables for the single key; per key in a CONFIG file, in camelCase):',
    ...settings('key'),
    '',
    `Exit codes: ${DAEMON_EXIT.ok} stopped by SIGTERM/SIGINT, ${DAEMON_EXIT.failed} failed, ${DAEMON_EXIT.invalidSettings} invalid settings, ${DAEMON_EXIT.usage} usage error.`,
  ];
}

export const serve: Command = {
  name: 'serve',
  args: '',
  positionals: { min: 0, max: 0 },
  summary: 'Runs the daemon: runtime.execute over Duplex or JSON-RPC 2.0 on a WebSocket. The default command.',
  options: {},
  refused: { secret: 'set the SECRET environment variable (a command line shows in process lists)' },
  details: settingsHelp,
  async run() {
    const [{ Daemon, prepareDaemon }, { createLogger }] = await Promise.all([import('../daemon.js'), import('../log.js')]);
    const prepared = await prepareDaemon(process.env);
    const log = createLogger(prepared.config, 1, true);
    for (const warning of prepared.warnings) log.warn(warning);
    // The last line of defence: every promise the daemon makes has its rejection
    // handled, and should one be missed it is logged, not the end of every connection.
    process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
    const daemon = await Daemon.start(prepared, log);
    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(DAEMON_EXIT.failed);
        }
        stopping = true;
        log.info({ signal }, 'signal received');
        daemon.stop().then(
          () => resolve(DAEMON_EXIT.ok),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            resolve(DAEMON_EXIT.failed);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};

export const health: Command = {
  name: 'health',
  args: '',
  positionals: { min: 0, max: 0 },
  summary: "Exits 0 if the daemon on PORT (TLS if TLS_CERT is set) answers /healthz with 200: the container's HEALTHCHECK.",
  options: {},
  async run() {
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
    return status === 200 ? DAEMON_EXIT.ok : DAEMON_EXIT.failed;
  },
};

export const prepare: Command = {
  name: 'prepare',
  args: '',
  positionals: { min: 0, max: 0 },
  summary:
    "Bundles every key's MODULES into MODULE_CACHE and writes their prelude code caches now, as serve does when it starts (runtime images do this at build time, so their containers need not write).",
  options: {},
  async run() {
    const [{ prepareDaemon }, { createLogger }] = await Promise.all([import('../daemon.js'), import('../log.js')]);
    // Nothing is served here, so a missing secret does not matter.
    const { config, keys, warnings } = await prepareDaemon({ ...process.env, ALLOW_NO_SECRET: 'true' });
    const log = createLogger(config);
    for (const warning of warnings) log.warn(warning);
    for (const { key, bundles, outbound } of keys) {
      await outbound.close();
      // A container key's modules are its image's, prepared when that was built.
      if (key.executor !== 'container')
        log.info({ key: key.name, modules: bundles.map((m) => `${m.name}@${m.version}`), cache: config.moduleCache }, 'prepared');
    }
    return DAEMON_EXIT.ok;
  },
};

export const schema: Command = {
  name: 'schema',
  args: '',
  positionals: { min: 0, max: 0 },
  summary: 'Prints the JSON Schema of the CONFIG file.',
  options: {},
  async run() {
    process.stdout.write(`${JSON.stringify(CONFIG_FILE_SCHEMA, null, 2)}\n`);
    return DAEMON_EXIT.ok;
  },
};

export const images: Command = {
  name: 'images',
  args: 'build [NAME]',
  positionals: { min: 1, max: 2 },
  summary:
    'Builds the javascriptd image from the Dockerfile, then the runtime images of runtime-images/ on it (or only NAME), with Docker; ' +
    'tags the build stage REPOSITORY:build for the next build to reuse, and removes the images the tags named before: no dangling image is left.',
  options: {
    repository: {
      type: 'string',
      value: 'name',
      description: 'repository of the javascriptd image; runtime image NAME is REPOSITORY-NAME [javascriptd]',
    },
  },
  async run(values, [verb, name]) {
    if (verb !== 'build') throw new UsageError(`unknown images command: ${verb}`);
    const repository = typeof values.repository === 'string' ? values.repository : 'javascriptd';
    const { buildImages } = await import('../images.js');
    const built = await buildImages({ only: name, repository, out: process.stdout });
    process.stdout.write(`built ${built.join(', ')}\n`);
    return DAEMON_EXIT.ok;
  },
};
