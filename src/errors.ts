// Every error a caller can receive is made here, so codes and messages stay in one place.

// The code table is the client package's (it needs nothing of the daemon); the
// daemon makes its errors from it.
import { ErrorCode } from 'javascriptd-client/errors';
import type { Usage } from './shared/contract.js';
import { clip } from './text.js';

export { ErrorCode };

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WireError {
  code: ErrorCodeValue;
  message: string;
  data?: Record<string, unknown>;
}

/** A coded error that is sent to the caller as `error` in the reply. */
export class RpcError extends Error {
  readonly code: ErrorCodeValue;
  readonly data: Record<string, unknown> | undefined;
  /** What the execution cost up to this error, for callers who ask and for metrics; not part of the wire form. */
  usage: Usage | undefined;

  constructor(code: ErrorCodeValue, message: string, data?: Record<string, unknown>) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }

  withUsage(usage: Usage): this {
    this.usage = usage;
    return this;
  }

  toWire(): WireError {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** What a script threw, as read inside the isolate (or copied out by isolated-vm). */
export interface Thrown {
  name: string;
  message: string;
  stack: string;
}

export function exception(thrown: Thrown, console: string[]): RpcError {
  const message = thrown.message === '' ? thrown.name : `${thrown.name}: ${thrown.message}`;
  return new RpcError(ErrorCode.Exception, message, { name: thrown.name, stack: thrown.stack, console });
}

/** A 1000 with its message and stack rewritten (positions mapped back to the source the client sent); any other error as it is. */
export function rewriteException(
  error: RpcError,
  rewrite: { message: (text: string) => string; stack: (text: string) => string },
): RpcError {
  if (error.code !== ErrorCode.Exception || error.data === undefined) return error;
  const { stack } = error.data;
  const rewritten = new RpcError(ErrorCode.Exception, rewrite.message(error.message), {
    ...error.data,
    ...(typeof stack === 'string' ? { stack: rewrite.stack(stack) } : {}),
  });
  return error.usage === undefined ? rewritten : rewritten.withUsage(error.usage);
}

// 1001 and 1002 carry `data` only when the script printed something first:
// the original javascriptd sent none, and its clients compare these errors
// exactly with {code, message}.

export function notImplemented(console: string[]): RpcError {
  return new RpcError(ErrorCode.NotImplemented, 'Not implemented', console.length === 0 ? undefined : { console });
}

export function timeout(limitMs: number, console: string[], reason = 'the time limit was reached'): RpcError {
  return new RpcError(ErrorCode.Timeout, 'Timeout', console.length === 0 ? undefined : { timeout: limitMs, reason, console });
}

export function memoryLimit(limitMb: number, console: string[]): RpcError {
  return new RpcError(ErrorCode.MemoryLimit, 'Memory limit exceeded', { limit: limitMb, console });
}

export function busy(reason: string): RpcError {
  return new RpcError(ErrorCode.Busy, 'Busy', { reason });
}

export function resultTooLarge(size: number, limit: number, console: string[]): RpcError {
  return new RpcError(ErrorCode.ResultTooLarge, 'Result too large', { size, limit, console });
}

/** A JSON-RPC batch member whose reply would take the batch's reply frame past MAX_FRAME (`limit`): `size` is its reply's. */
export function batchReplyTooLarge(size: number, limit: number): RpcError {
  return new RpcError(ErrorCode.ResultTooLarge, 'Result too large', {
    size,
    limit,
    reason: 'the reply does not fit in the batch reply frame (MAX_FRAME)',
  });
}

/** A JSON-RPC batch refused whole: a reply for each of its `members` could not fit in one frame of MAX_FRAME. */
export function batchTooLarge(members: number): RpcError {
  return invalidRequest(`a batch of ${members} members, too many for a reply to each to fit in one frame (MAX_FRAME)`);
}

export function interrupted(reason: string, console: string[]): RpcError {
  return new RpcError(ErrorCode.Interrupted, 'Interrupted', { reason, console });
}

export function cancelled(console: string[]): RpcError {
  return new RpcError(ErrorCode.Cancelled, 'Cancelled', { console });
}

export function shuttingDown(): RpcError {
  return new RpcError(ErrorCode.ShuttingDown, 'Shutting down');
}

export function parseError(detail: string): RpcError {
  return new RpcError(ErrorCode.ParseError, 'Parse error', { detail });
}

export function invalidRequest(detail: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, 'Invalid request', { detail });
}

export function methodNotFound(method: string): RpcError {
  return new RpcError(ErrorCode.MethodNotFound, 'Method not found', { method: clip(method) });
}

export function invalidParams(errors: unknown[]): RpcError {
  return new RpcError(ErrorCode.InvalidParams, 'Invalid params', { errors });
}

export function internal(): RpcError {
  return new RpcError(ErrorCode.Internal, 'Internal error');
}

/** The process hosting an execution's isolate went away before it answered. */
export function sandboxLost(reason: string): RpcError {
  return new RpcError(ErrorCode.Internal, 'Internal error', { reason });
}

/** esbuild's service died, hung or outgrew TRANSFORM_MEMORY with this TypeScript or module transform in hand; a new service takes the next. */
export function transformFailed(reason: string): RpcError {
  return new RpcError(ErrorCode.Internal, 'Internal error', {
    reason: `the TypeScript and module compiler (esbuild) failed and was restarted: ${reason}`,
  });
}

/** Rebuilds an error that crossed a process boundary in its wire form. */
export function fromWire(wire: WireError): RpcError {
  return new RpcError(wire.code, wire.message, wire.data);
}
