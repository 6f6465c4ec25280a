// What a javascriptd call can fail with, on the client's side. Local aborts and
// per-call timeouts reject with the AbortSignal's reason (a DOMException named
// AbortError or TimeoutError), as fetch does.

/** The codes of the daemon's error replies; the daemon's src/errors.ts makes its errors from this table. */
export const ErrorCode = {
  /** The script threw, rejected, or its result could not be serialized. */
  Exception: 1000,
  /** `call` does not name a function. */
  NotImplemented: 1001,
  /** The execution did not finish within its time limit. */
  Timeout: 1002,
  /** The isolate ran out of its memory limit. */
  MemoryLimit: 1003,
  /** The queue or the connection's in-flight bound is full. */
  Busy: 1004,
  /** The result is larger than RESULT_LIMIT, or (in a JSON-RPC batch) its reply does not fit in the batch's reply frame (MAX_FRAME). */
  ResultTooLarge: 1005,
  /** The daemon is shutting down and takes no new work. */
  ShuttingDown: 1006,
  /** The caller cancelled it (runtime.cancel): it was stopped where it was, with its console so far. */
  Cancelled: 1007,
  /**
   * The execution was lost with its isolate or sandbox, which another execution
   * of the same key brought down, after it had made a request outside: it was
   * not run again, as it may have had an effect.
   */
  Interrupted: 1008,
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
} as const;

/** The daemon answered with an error: the script threw (1000), `call` is missing (1001), it timed out (1002)… */
export class ExecutionError extends Error {
  /** One of ErrorCode: 1000–1008, or a JSON-RPC code (-32xxx) for a request the daemon refused. */
  readonly code: number;
  /** What the daemon added: the script's `stack` and `console` for 1000, the `timeout` for 1002… */
  readonly data: Record<string, unknown> | undefined;

  constructor(code: number, message: string, data?: Record<string, unknown>) {
    super(message);
    this.name = 'ExecutionError';
    this.code = code;
    this.data = data;
  }

  /** The script's console output up to the error, when the daemon sent it. */
  get console(): string[] {
    const lines = this.data?.console;
    return Array.isArray(lines) ? lines.map(String) : [];
  }

  /** The script's own stack (inside the daemon), for exceptions. */
  get scriptStack(): string | undefined {
    return typeof this.data?.stack === 'string' ? this.data.stack : undefined;
  }
}

export type ConnectionFailure =
  /** No connection could be made (refused, unreachable, TLS, no handshake in time). */
  | 'connect-failed'
  /** The daemon refused the connection with an HTTP status: 401 (wrong or missing secret), 503 (draining). */
  | 'refused'
  /** The connection dropped before the reply: the script may or may not have run. */
  | 'connection-lost'
  /** close() was called. */
  | 'closed';

/** The call got no answer from a daemon. */
export class ConnectionError extends Error {
  readonly reason: ConnectionFailure;
  /** The HTTP status of a refused connection. */
  readonly status: number | undefined;

  constructor(reason: ConnectionFailure, message: string, status?: number) {
    super(message);
    this.name = 'ConnectionError';
    this.reason = reason;
    this.status = status;
  }
}
