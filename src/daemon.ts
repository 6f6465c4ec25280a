// Wires the layers together (transport → protocol → runtime → sandbox) and
// runs the graceful shutdown.
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Docker from 'dockerode';
import type { WebSocket } from 'ws';
import { versionAt } from './cli/command.js';
import { ConfigError } from './config/config-error.js';
import { readConfig } from './config/read-config.js';
import type { Config, KeyPolicy } from './config/types.js';
import { type Logger, logFormat } from './log.js';
import { Metrics } from './metrics.js';
import { FetchPolicy } from './outbound/fetch-policy.js';
import { Outbound } from './outbound/outbound.js';
import { Connection } from './protocol/connection.js';
import { Dispatcher } from './protocol/dispatcher.js';
import { answerBody } from './protocol/http-body.js';
import { openRpcDocument } from './protocol/openrpc.js';
import { EsbuildService } from './runtime/esbuild-service.js';
import { type KeyPipeline, Runtime } from './runtime/runtime.js';
import { Scheduler } from './runtime/scheduler.js';
import { scriptParser } from './runtime/script.js';
import { SourceTransform } from './runtime/source-transform.js';
import { prepareCodeCache } from './sandbox/code-cache.js';
import { containerLink, MODULES_LABEL, removeStaleSandboxes } from './sandbox/container-link.js';
import { bundleModules, globalModulePath } from './sandbox/module-bundler.js';
import { processLink } from './sandbox/process-link.js';
import type { Sandbox } from './sandbox/sandbox.js';
import { SandboxPool } from './sandbox/sandbox-pool.js';
import type { RecycleReason } from './shared/contract.js';
import type { BundledModule } from './shared/module-files.js';
import { type ModuleInstances, preludeSource } from './shared/prelude-source.js';
import type { RpcPost } from './transport/http-rpc.js';
import { isLoopbackAddress } from './transport/origin.js';
import { isEveryInterface, listen, type Transport } from './transport/server.js';

export class Daemon {
  private readonly connections = new Set<Connection>();
  private lastConnectionId = 0;
  private lastPostId = 0;
  private draining = false;
  private transport!: Transport;

  private readonly config: Config;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly sandboxes: Sandbox[];
  private readonly prepared: PreparedKey[];
  private readonly schedulers: Scheduler[];
  private readonly runtime: Runtime;
  private readonly esbuild: EsbuildService;

  private constructor(parts: DaemonParts) {
    ({
      config: this.config,
      log: this.log,
      metrics: this.metrics,
      sandboxes: this.sandboxes,
      prepared: this.prepared,
      schedulers: this.schedulers,
      runtime: this.runtime,
      esbuild: this.esbuild,
    } = parts);
  }

  static async start({ config, keys: prepared, modulePath, docker }: Prepared, log: Logger): Promise<Daemon> {
    if (prepared.some((p) => p.key.executor === 'container')) await removeStaleSandboxes(await docker(), log);
    const keys = new Map<string, KeyPipeline>();
    const poolSizes = new Map(prepared.map(({ key }) => [key.name, key.poolSize]));
    const metrics = new Metrics(() =>
      [...keys].map(([key, { scheduler }]) => ({
        key,
        queued: scheduler.queued,
        running: scheduler.active,
        capacity: scheduler.capacity,
        sandboxes: poolSizes.get(key) ?? 0,
      })),
    );
    const sandboxes: Sandbox[] = [];
    // One esbuild service for the daemon, as esbuild's API keeps one per process.
    const esbuild = new EsbuildService({ timeoutMs: config.transformTimeoutMs, memoryMb: config.transformMemoryMb }, log);
    const sourceLimits = { maxBytes: config.maxSourceBytes, maxDepth: config.maxSourceDepth };
    const version = versionAt(join(__dirname, '..', '..'));
    // Each key has its own sandboxes: executions of different keys never share an isolate.
    for (const entry of prepared) {
      const { key } = entry;
      const sandbox = await startSandbox({
        prepared: entry,
        config,
        modulePath,
        docker,
        onRecycle: (reason) => metrics.isolateRecycled(key.name, reason),
        log: log.child({ key: key.name }),
      });
      sandboxes.push(sandbox);
      const scheduler = new Scheduler({
        sandbox,
        bounds: { items: key.queueLimit, bytes: key.queueBytes },
        onStart: (waited) => metrics.waited(key.name, waited),
      });
      keys.set(key.name, {
        scheduler,
        parseScript: scriptParser(key.timeoutMs, key.maxTimeoutMs),
        transform: new SourceTransform(entry.modules, key.queueBytes, sourceLimits, esbuild),
        discovery: JSON.stringify(openRpcDocument(version, key.maxTimeoutMs)),
      });
    }
    const schedulers = [...keys.values()].map((k) => k.scheduler);
    const runtime = new Runtime({ keys, log, metrics });
    const daemon = new Daemon({ config, log, metrics, sandboxes, prepared, schedulers, runtime, esbuild });
    daemon.transport = await listen(
      config,
      {
        onConnection: (ws, request, key) => daemon.accept(ws, request, key),
        onPost: (post) => daemon.answer(post),
        accepting: () => !daemon.draining,
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      },
      log,
    );
    daemon.announce();
    return daemon;
  }

  get url(): string {
    return this.transport.url;
  }

  /** Stops taking work, lets accepted executions finish, closes every connection. */
  async stop(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const sum = (count: (s: Scheduler) => number) => this.schedulers.reduce((total, s) => total + count(s), 0);
    this.log.info({ queued: sum((s) => s.queued), running: sum((s) => s.active) }, 'shutting down');
    await Promise.all(this.schedulers.map((s) => s.close(this.config.shutdownGraceMs)));
    // The last replies are made in promise callbacks still queued: they go out before the close frames.
    await nextTurn();
    for (const connection of this.connections) connection.shutdown();
    await this.transport.close();
    await Promise.all(this.sandboxes.map((s) => s.close()));
    await Promise.all(this.prepared.map((p) => p.outbound.close()));
    this.esbuild.close();
    this.log.info('stopped');
  }

  private accept(ws: WebSocket, request: IncomingMessage, key: KeyPolicy): void {
    const id = `c${++this.lastConnectionId}`;
    const connection = new Connection({
      ws,
      id,
      key: key.name,
      runtime: this.runtime,
      limits: this.config,
      log: this.log.child({ connection: id }),
      metrics: this.metrics,
    });
    this.connections.add(connection);
    this.metrics.connectionOpened();
    ws.on('close', () => {
      this.connections.delete(connection);
      this.metrics.connectionClosed();
    });
    this.log.info({ connection: id, key: key.name, remote: request.socket.remoteAddress }, 'connection opened');
  }

  /** A JSON-RPC body POSTed over HTTP: a client of its own, whose executions stop if it leaves before its answer. */
  private answer({ body, key, remote, signal, answer }: RpcPost): void {
    const client = `h${++this.lastPostId}`;
    const log = this.log.child({ client });
    log.debug({ key: key.name, remote, bytes: Buffer.byteLength(body) }, 'JSON-RPC over HTTP');
    const dispatcher = new Dispatcher({ key: key.name, client, runtime: this.runtime, limits: this.config, log, signal });
    answerBody(dispatcher, body)
      .then(answer)
      .catch((err: unknown) => log.error({ err }, 'failed to answer a POST'));
  }

  private announce(): void {
    const { config, log } = this;
    if (config.keys.some((key) => key.secret === undefined)) {
      if (isLoopbackAddress(this.transport.address.address))
        log.warn('no SECRET is set: listening on loopback only (set HOST to listen elsewhere)');
      else log.warn('no SECRET is set: anyone who can reach this address can run code');
    }
    const keys = this.prepared.map(({ key, modules }) => ({
      name: key.name,
      poolSize: key.poolSize,
      modules,
      fetchRules: key.fetchAllow.length,
    }));
    const { address, addresses } = this.transport;
    log.info(
      {
        url: this.url,
        addresses,
        everyInterface: isEveryInterface(address.address),
        secretRequired: config.keys.every((key) => key.secret !== undefined),
        keys,
        tls: config.tlsCert !== undefined,
      },
      'listening',
    );
  }
}

/** What a started daemon holds: made by Daemon.start. */
interface DaemonParts {
  config: Config;
  log: Logger;
  metrics: Metrics;
  sandboxes: Sandbox[];
  prepared: PreparedKey[];
  schedulers: Scheduler[];
  runtime: Runtime;
  esbuild: EsbuildService;
}

interface PreparedKey {
  key: KeyPolicy;
  /** What scripts may require: the key's MODULES or, for a container key without them, all of its image's. */
  modules: string[];
  /** A sandbox process's modules, bundled. */
  bundles: BundledModule[];
  /** A container key's: the modules its image prepared, which its sandboxes' prelude holds. */
  imageModules: string[] | undefined;
  outbound: Outbound;
}

export interface Prepared {
  config: Config;
  keys: PreparedKey[];
  /** The module folder sandbox processes load from ('' when none needs one). */
  modulePath: string;
  /** The Docker engine, reached on first use: only container keys need one. */
  docker: () => Promise<Docker>;
  /** Variables that look like a setting but are none, each a line to log. */
  warnings: string[];
}

/**
 * Reads the settings from `env` and prepares every key: its fetch rules parsed,
 * and its modules bundled with their code cache written (sandbox processes) or
 * checked against its image (sandbox containers). Throws one ConfigError listing
 * every problem, the settings' and the keys' alike.
 */
export async function prepareDaemon(env: NodeJS.ProcessEnv): Promise<Prepared> {
  const { config, problems, warnings } = readConfig(env);
  const docker = dockerEngine();
  const local = (key: KeyPolicy) => key.executor !== 'container' && key.modules.length > 0;
  const modulePath = config.keys.some(local) ? (config.modulePath ?? globalModulePath()) : '';
  const keys: PreparedKey[] = [];
  for (const key of config.keys) {
    const found: string[] = [];
    const policy = FetchPolicy.parse(key.fetchAllow, key.fetchAllowPrivate, found);
    const modules =
      key.executor === 'container'
        ? await imageModules(key, docker, found)
        : await processModules(key, modulePath, config.moduleCache, found);
    const limits = { maxRequests: key.fetchMaxRequests, maxBytes: key.fetchMaxBytes, timeoutMs: key.fetchTimeoutMs };
    keys.push({ key, ...modules, outbound: new Outbound(policy, limits) });
    // MODULE_CACHE is the daemon's, not the key's: its problem is named once.
    const where = config.keys.length > 1 ? `key "${key.name}": ` : '';
    problems.push(...found.map((p) => (p.startsWith('MODULE_CACHE') ? p : where + p)));
  }
  if (problems.length > 0) {
    await Promise.all(keys.map((p) => p.outbound.close()));
    throw new ConfigError([...new Set(problems)], warnings);
  }
  return { config, keys, modulePath, docker, warnings };
}

const MODULE_INSTANCES: readonly ModuleInstances[] = ['shared', 'per-execution'];

type KeyModules = Pick<PreparedKey, 'modules' | 'bundles' | 'imageModules'>;

/**
 * A sandbox process's modules, bundled, and the code caches of the scripts
 * that hold them, written now if missing so that sandboxes only read them:
 * for either MODULE_INSTANCES, so that a cache prepared in an image serves both.
 */
async function processModules(key: KeyPolicy, modulePath: string, cacheDir: string, problems: string[]): Promise<KeyModules> {
  try {
    const bundles = await bundleModules(key.modules, modulePath, cacheDir);
    for (const instances of MODULE_INSTANCES) await prepareCodeCache(preludeSource(bundles, cacheDir, instances));
    return { modules: key.modules, bundles, imageModules: undefined };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    return { modules: key.modules, bundles: [], imageModules: undefined };
  }
}

/**
 * A container key's modules: those its image prepared, as the image's label
 * records them, narrowed by the key's MODULES. Its sandboxes load them from the
 * image's own cache.
 */
async function imageModules(key: KeyPolicy, docker: () => Promise<Docker>, problems: string[]): Promise<KeyModules> {
  const image = key.sandboxImage;
  const labels = await docker()
    .then((engine) => engine.getImage(image).inspect())
    .then(
      (info) => info.Config.Labels ?? {},
      (error: unknown) => {
        if (error instanceof ConfigError) problems.push(...error.problems);
        else if ((error as { statusCode?: number }).statusCode === 404)
          problems.push(`SANDBOX_IMAGE ${image} is not in the Docker engine: build it (javascriptd images build) or pull it`);
        else problems.push(`SANDBOX_IMAGE ${image} could not be inspected: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      },
    );
  if (labels === undefined) return { modules: key.modules, bundles: [], imageModules: [] };
  const inImage = (labels[MODULES_LABEL] ?? '').split(',').filter((name) => name !== '');
  const missing = key.modules.filter((name) => !inImage.includes(name));
  if (missing.length > 0) {
    problems.push(
      `MODULES: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in SANDBOX_IMAGE ${image}, which has ${inImage.join(', ') || 'none'} ` +
        `(its ${MODULES_LABEL} label): install and prepare them in the image, or leave MODULES out to allow the image's own`,
    );
  }
  return { modules: key.modules.length > 0 ? key.modules : inImage, bundles: [], imageModules: inImage };
}

interface SandboxStart {
  prepared: PreparedKey;
  config: Config;
  modulePath: string;
  docker: () => Promise<Docker>;
  onRecycle: (reason: RecycleReason) => void;
  log: Logger;
}

async function startSandbox({ prepared, config, modulePath, docker, onRecycle, log }: SandboxStart): Promise<Sandbox> {
  const { key, modules, imageModules, outbound } = prepared;
  const options = {
    key: key.name,
    limits: {
      memoryLimitMb: key.memoryLimitMb,
      sandboxMemoryMb: key.sandboxMemoryMb,
      consoleLimitBytes: key.consoleLimitBytes,
      resultLimitBytes: key.resultLimitBytes,
      resultDepth: config.maxDepth,
      fetchMaxBytes: key.fetchMaxBytes,
      fetchMaxRequests: key.fetchMaxRequests,
    },
    modules,
    moduleInstances: key.moduleInstances,
    logLevel: log.level,
    noLogs: log.level === 'silent',
    logFormat: logFormat(config.logFormat),
  };
  const link =
    key.executor === 'container'
      ? containerLink(
          await docker(),
          { ...options, preludeModules: imageModules },
          {
            image: key.sandboxImage,
            memoryMb: key.sandboxMemoryMb,
            cpus: key.sandboxCpus,
            pids: key.sandboxPids,
            tmpfsMb: key.sandboxTmpfsMb,
          },
          log,
        )
      : processLink({ ...options, modulePath, cacheDir: config.moduleCache });
  return SandboxPool.create({
    size: key.poolSize,
    capacity: key.maxConcurrent,
    host: { startLink: link, outbound, sandboxMemoryMb: key.sandboxMemoryMb, onRecycle, log },
  });
}

/** The Docker engine (DOCKER_HOST, or the local socket), connected on the first call. */
function dockerEngine(): () => Promise<Docker> {
  let engine: Promise<Docker> | undefined;
  return () => (engine ??= connectDocker());
}

async function connectDocker(): Promise<Docker> {
  const docker = new Docker();
  await docker.ping().catch((error: unknown) => {
    throw new ConfigError([
      `EXECUTOR=container needs a Docker engine: ${error instanceof Error ? error.message : String(error)} (start dockerd, or set DOCKER_HOST)`,
    ]);
  });
  return docker;
}
