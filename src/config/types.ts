// The typed settings every layer is given (readConfig makes them), and a row of
// the settings table they are made from.

/** How log lines are written: for a person, or one JSON object a line. */
export type LogFormat = 'pretty' | 'json';

/** What one key (one secret) may do, and its limits. */
export interface KeyPolicy {
  name: string;
  secret: string | undefined;
  modules: string[];
  moduleInstances: 'shared' | 'per-execution';
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
  logFormat: 'auto' | LogFormat;
  noLogs: boolean;
  allowNoSecret: boolean;
  metricsToken: string | undefined;
  /** Origins (as browsers send them) whose pages may open a WebSocket or POST, or `*`; the daemon's own is always allowed. */
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

export interface Setting {
  env: string;
  /** 'key' settings belong to a key: in the CONFIG file they are set per key. */
  scope: 'server' | 'key';
  field: ServerField | PolicyField | 'keys';
  schema: Record<string, unknown>;
  /** A comma-separated list in the environment, an array in the CONFIG file. */
  list?: boolean;
  help: string;
  /** The default in words, where the schema has none or it depends on the machine (--help and docs/settings.md show it). */
  defaultText?: string;
}
