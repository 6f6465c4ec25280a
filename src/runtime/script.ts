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

/** Builds the validator once; `maxTimeoutMs` bounds what a script may ask for. */
export function scriptParser(defaultTimeoutMs: number, maxTimeoutMs: number): ParseScript {
  const schema = {
    type: 'object',
    required: ['code'],
    properties: {
      code: { type: 'string' },
      globals: { type: ['object', 'null'] },
      call: { type: ['string', 'null'] },
      caller: { type: ['string', 'null'] },
      timeout: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: maxTimeoutMs },
      module: { type: ['boolean', 'null'] },
      typescript: { type: ['boolean', 'null'] },
      stream: { type: ['boolean', 'null'] },
      usage: { type: ['boolean', 'null'] },
    },
  };
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
const validateCancel = new Ajv({ allErrors: true, allowUnionTypes: true }).compile<{ id: string | number }>({
  type: 'object',
  required: ['id'],
  properties: { id: { type: ['string', 'number'] } },
});

/** The request id runtime.cancel names; -32602 listing what is wrong otherwise. */
export function parseCancel(params: unknown): string | number {
  const target = Array.isArray(params) && params.length === 1 ? { id: params[0] } : params;
  if (!validateCancel(target)) throw errors.invalidParams(validateCancel.errors ?? []);
  return target.id;
}
