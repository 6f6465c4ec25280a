// The params of runtime.execute (the script) and of runtime.cancel: their ajv
// schemas and normalised forms.
import { createHash } from 'node:crypto';
import Ajv from 'ajv';
import type { ScriptParams } from 'javascriptd-client';
import * as errors from '../errors.js';
import type { ExecutionRequest } from '../shared/contract.js';

type Nullable<T> = { [K in keyof T]: T[K] | null };

/**
 * What runtime.execute accepts: the client package's ScriptParams (one wire
 * type, as the error codes are), where nulls and empty strings mean "not
 * given", as old Go clients send them.
 */
type Script = Pick<ScriptParams, 'code'> & Nullable<Omit<ScriptParams, 'code'>>;

/** A request to run, and how its reply is made. */
export interface ParsedScript {
  request: ExecutionRequest;
  usage: boolean;
}

export type ParseScript = (params: unknown) => ParsedScript;

/** runtime.execute's params (the OpenRPC document is made from this too); `maxTimeoutMs` bounds what a script may ask for. */
export function scriptSchema(maxTimeoutMs: number) {
  return {
    type: 'object',
    required: ['code'],
    properties: {
      code: { type: 'string', description: 'the script: its last expression is the value, unless `call` names a function' },
      globals: { type: ['object', 'null'], description: 'globals defined before the script runs (JSON values)' },
      call: {
        type: ['string', 'null'],
        description: 'a function the script defines (an export, for a module), called with a callback `cb`',
      },
      caller: {
        type: ['string', 'null'],
        description: 'a function expression called as caller(callee, cb); default function (callee, cb) { callee(cb); }',
      },
      timeout: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: maxTimeoutMs, description: 'time limit, ms' },
      module: { type: ['boolean', 'null'], description: '`code` is an ES module' },
      typescript: { type: ['boolean', 'null'], description: '`code` is TypeScript (types stripped, not checked)' },
      stream: { type: ['boolean', 'null'], description: 'console lines sent ahead of the reply as they are printed (WebSocket only)' },
      usage: { type: ['boolean', 'null'], description: 'the result (or an error) says what the run cost' },
    },
  };
}

/** runtime.cancel's params: the id of a request of the same connection. */
export const CANCEL_SCHEMA = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: ['string', 'number'], description: 'the id of the request to cancel' } },
};

/** Builds the validator once. */
export function scriptParser(defaultTimeoutMs: number, maxTimeoutMs: number): ParseScript {
  const schema = scriptSchema(maxTimeoutMs);
  const validate = new Ajv({ allErrors: true }).compile<Script>(schema);
  return (params) => {
    // JSON-RPC clients may pass the script positionally.
    const script = Array.isArray(params) && params.length === 1 ? params[0] : params;
    if (!validate(script)) throw errors.invalidParams(validate.errors ?? []);
    const request: ExecutionRequest = {
      code: script.code,
      codeHash: createHash('sha256').update(script.code).digest('hex'),
      module: script.module ?? undefined,
      typescript: script.typescript ?? undefined,
      globals: script.globals ?? undefined,
      call: script.call || undefined,
      caller: script.caller || undefined,
      timeoutMs: Math.ceil(script.timeout ?? defaultTimeoutMs),
      stream: script.stream === true,
    };
    return { request, usage: script.usage === true };
  };
}

/** runtime.cancel's params: `{id}`, or `[id]` positionally, the id of a request of the same connection. */
const validateCancel = new Ajv({ allErrors: true, allowUnionTypes: true }).compile<{ id: string | number }>(CANCEL_SCHEMA);

/** The request id runtime.cancel names; -32602 listing what is wrong otherwise. */
export function parseCancel(params: unknown): string | number {
  const target = Array.isArray(params) && params.length === 1 ? { id: params[0] } : params;
  if (!validateCancel(target)) throw errors.invalidParams(validateCancel.errors ?? []);
  return target.id;
}
