// Every error a caller can receive is made here, so codes and messages stay in one place.

// The code table is the client package's (it needs nothing of the daemon); the
// daemon makes its errors from it.
import { ErrorCode } from 'javascriptd-client/errors';
import type { Usage } from './shared/contract.js';
import { clip } from './text.js';

export { ErrorCode };

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Each code's message, as errors are made with it (1000's is the script's own, `Name: message`); the OpenRPC document lists them. */
export const ERROR_MESSAGES = {
  [ErrorCode.Exception]: 'Name: message, the error the script threw',
  [ErrorCode.NotImplemented]: 'Not implemented',
  [ErrorCode.Timeout]: 'Timeout',
  [ErrorCode.MemoryLimit]: 'Memory limit exceeded',
  [ErrorCode.Busy]: 'Busy',
  [ErrorCode.ResultTooLarge]: 'Result too large',
  [ErrorCode.ShuttingDown]: 'Shutting down',
  [ErrorCode.Cancelled]: 'Cancelled',
  [ErrorCode.Interrupted]: 'Interrupted',
  [ErrorCode.ParseError]: 'Parse error',
  [ErrorCode.InvalidRequest]: 'Invalid request',
  [ErrorCode.MethodNotFound]: 'Method not found',
  [ErrorCode.InvalidParams]: 'Invalid params',
  [ErrorCode.Internal]: 'Internal error',
} as const satisfies Record<ErrorCodeValue, string>;

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

/** An error with its code's own message. */
function coded(code: Exclude<ErrorCodeValue, typeof ErrorCode.Exception>, data?: Record<string, unknown>): RpcError {
  return new RpcError(code, ERROR_MESSAGES[code], data);
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
  return coded(ErrorCode.NotImplemented, console.length === 0 ? undefined : { console });
}

export function timeout(limitMs: number, console: string[], reason = 'the time limit was reached'): RpcError {
  return coded(ErrorCode.Timeout, console.length === 0 ? undefined : { timeout: limitMs, reason, console });
}

export function memoryLimit(limitMb: number, console: string[]): RpcError {
  return coded(ErrorCode.MemoryLimit, { limit: limitMb, console });
}

export function busy(reason: string): RpcError {
  return coded(ErrorCode.Busy, { reason });
}

export function resultTooLarge(size: number, limit: number, console: string[]): RpcError {
  return coded(ErrorCode.ResultTooLarge, { size, limit, console });
}

/** A JSON-RPC batch member whose reply would take the batch's reply frame past MAX_FRAME (`limit`): `size` is its reply's. */
export function batchReplyTooLarge(size: number, limit: number): RpcError {
  return coded(ErrorCode.ResultTooLarge, {
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
  return coded(ErrorCode.Interrupted, { reason, console });
}

export function cancelled(console: string[]): RpcError {
  return coded(ErrorCode.Cancelled, { console });
}

export function shuttingDown(): RpcError {
  return coded(ErrorCode.ShuttingDown);
}

export function parseError(detail: string): RpcError {
  return coded(ErrorCode.ParseError, { detail });
}

export function invalidRequest(detail: string): RpcError {
  return coded(ErrorCode.InvalidRequest, { detail });
}

export function methodNotFound(method: string): RpcError {
  return coded(ErrorCode.MethodNotFound, { method: clip(method) });
}

export function invalidParams(errors: unknown[]): RpcError {
  return coded(ErrorCode.InvalidParams, { errors });
}

export function internal(): RpcError {
  return coded(ErrorCode.Internal);
}

/** The process hosting an execution's isolate went away before it answered. */
export function sandboxLost(reason: string): RpcError {
  return coded(ErrorCode.Internal, { reason });
}

/** esbuild's service died, hung or outgrew TRANSFORM_MEMORY with this TypeScript or module transform in hand; a new service takes the next. */
export function transformFailed(reason: string): RpcError {
  return coded(ErrorCode.Internal, {
    reason: `the TypeScript and module compiler (esbuild) failed and was restarted: ${reason}`,
  });
}

/** Rebuilds an error that crossed a process boundary in its wire form. */
export function fromWire(wire: WireError): RpcError {
  return new RpcError(wire.code, wire.message, wire.data);
}
