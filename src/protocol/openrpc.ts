// The OpenRPC document rpc.discover answers with: the methods, their params
// (made from the very schemas that validate them, in runtime/script.ts), their
// results and the error codes of src/errors.ts, so that OpenRPC tools can list
// what the daemon serves.
import type { ExecutionResult, Usage } from 'javascriptd-client';
import { ERROR_MESSAGES, ErrorCode, type ErrorCodeValue } from '../errors.js';
import { DISCOVER } from '../runtime/runtime.js';
import { CANCEL_SCHEMA, scriptSchema } from '../runtime/script.js';

export const OPENRPC_VERSION = '1.3.2';

interface ObjectSchema {
  type: string;
  required: string[];
  properties: Record<string, { description?: string }>;
}

/** One content descriptor a property of a params schema: JSON-RPC's by-name params are the properties of one object. */
function params(schema: ObjectSchema) {
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    ...(property.description === undefined ? {} : { description: property.description }),
    required: schema.required.includes(name),
    schema: property,
  }));
}

/** The codes, each with its message (and in a document's components, by name). */
function errors(codes: readonly ErrorCodeValue[]) {
  return codes.map((code) => ({ code, message: ERROR_MESSAGES[code] }));
}

// The results are made as text (runtime.ts), so their schemas are written
// here, keyed by the client package's types so that a field added there is
// missed here at compile time; tests check replies against them.
const USAGE: Record<keyof Usage, string> = {
  cpuMs: 'CPU time of its calls, ms',
  wallMs: 'from its context being ready to its outcome, ms',
  heapBytes: 'how far its heap grew, bytes',
  fetchRequests: 'requests it handed to the daemon',
  fetchBytesOut: 'bytes of request bodies sent',
  fetchBytesIn: 'bytes of response bodies received',
  consoleBytes: 'bytes it printed',
};

const EXECUTE_RESULT: Record<keyof ExecutionResult, object> = {
  value: { description: 'the value, as JSON' },
  console: { type: 'array', items: { type: 'string' }, description: 'the console lines' },
  time: { type: 'number', description: 'the execution time, ms' },
  usage: {
    type: 'object',
    description: 'what the run cost, with `usage: true`',
    required: Object.keys(USAGE),
    properties: Object.fromEntries(Object.entries(USAGE).map(([name, description]) => [name, { type: 'number', description }])),
    additionalProperties: false,
  },
};

/** The daemon's own codes, 1000–1008: any execution may end with one. */
const EXECUTION_ERRORS = Object.values(ErrorCode).filter((code) => code > 0);

/** The document for a key whose scripts may ask for up to `maxTimeoutMs`. */
export function openRpcDocument(version: string, maxTimeoutMs: number): object {
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: 'javascriptd',
      version,
      description:
        'Runs untrusted JavaScript in V8 isolates. JSON-RPC 2.0 over a WebSocket, or over HTTP POST to / with Content-Type: application/json; the secret goes in x-runtime-secret or Authorization: Bearer.',
    },
    methods: [
      {
        name: 'runtime.execute',
        summary: 'Runs a script and answers with its value, console lines and time',
        description: 'params are the script object, or an array holding it. Over HTTP, `stream` is ignored: the lines come in the result.',
        paramStructure: 'by-name',
        params: params(scriptSchema(maxTimeoutMs)),
        result: {
          name: 'result',
          schema: { type: 'object', required: ['value', 'console', 'time'], properties: EXECUTE_RESULT, additionalProperties: false },
        },
        errors: errors([...EXECUTION_ERRORS, ErrorCode.InvalidParams, ErrorCode.Internal]),
      },
      {
        name: 'runtime.cancel',
        summary: 'Stops a request of the same connection (HTTP: of the same body), which then answers 1007',
        description: 'params are {id}, or [id]. Finding no such request is not an error: it may have just finished.',
        paramStructure: 'by-name',
        params: params(CANCEL_SCHEMA),
        result: {
          name: 'result',
          schema: {
            type: 'object',
            required: ['cancelled'],
            properties: { cancelled: { type: 'boolean' }, reason: { type: 'string', description: 'why nothing was cancelled' } },
            additionalProperties: false,
          },
        },
        errors: errors([ErrorCode.InvalidParams]),
      },
      {
        name: DISCOVER,
        summary: 'This document',
        params: [],
        result: { name: 'document', schema: { type: 'object', required: ['openrpc', 'info', 'methods'] } },
      },
    ],
    components: {
      errors: Object.fromEntries(Object.entries(ErrorCode).map(([name, code]) => [name, { code, message: ERROR_MESSAGES[code] }])),
    },
  };
}
