// Wires the layers together (transport → protocol → runtime → sandbox) and
// runs the graceful shutdown.
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Connection } from './protocol/connection.js';
import { Runtime } from './runtime/runtime.js';
import { Scheduler } from './runtime/scheduler.js';
import { scriptParser } from './runtime/script.js';
import { ProcessPool } from './sandbox/process-pool.js';
import type { Sandbox } from './sandbox/sandbox.js';
import { listen, type Transport } from './transport/server.js';

export class Daemon {
  private readonly connections = new Set<Connection>();
  private lastConnectionId = 0;
  private draining = false;
  private transport!: Transport;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly sandbox: Sandbox,
    private readonly scheduler: Scheduler,
    private readonly runtime: Runtime,
  ) {}

  static async start(config: Config, log: Logger): Promise<Daemon> {
    const sandbox = await ProcessPool.create(config.poolSize, {
      limits: { memoryLimitMb: config.memoryLimitMb, consoleLimitBytes: config.consoleLimitBytes, resultLimitBytes: config.resultLimitBytes },
      logLevel: config.logLevel,
      noLogs: config.noLogs,
    }, log);
    const scheduler = new Scheduler(sandbox, config.queueLimit);
    const runtime = new Runtime(scheduler, scriptParser(config.timeoutMs, config.maxTimeoutMs), log);
    const daemon = new Daemon(config, log, sandbox, scheduler, runtime);
    daemon.transport = await listen(config, {
      onConnection: (ws, request) => daemon.accept(ws, request),
      accepting: () => !daemon.draining,
    });
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
    this.log.info({ queued: this.scheduler.queued, running: this.scheduler.active }, 'shutting down');
    await this.scheduler.close(this.config.shutdownGraceMs);
    for (const connection of this.connections) connection.shutdown();
    await this.transport.close();
    await this.sandbox.close();
    this.log.info('stopped');
  }

  private accept(ws: WebSocket, request: IncomingMessage): void {
    const id = `c${++this.lastConnectionId}`;
    const connection = new Connection(ws, id, this.runtime, this.config.maxInFlight, this.log.child({ connection: id }));
    this.connections.add(connection);
    ws.on('close', () => this.connections.delete(connection));
    this.log.info({ connection: id, remote: request.socket.remoteAddress }, 'connection opened');
  }

  private announce(): void {
    const { config, log } = this;
    if (config.secret === undefined) {
      if (isLoopback(this.transport.address.address)) log.warn('no SECRET is set: listening on loopback only (set HOST to listen elsewhere)');
      else log.warn('no SECRET is set: anyone who can reach this address can run code');
    }
    log.info({ url: this.url, poolSize: config.poolSize, tls: config.tlsCert !== undefined }, 'listening');
  }
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === '::ffff:127.0.0.1';
}
