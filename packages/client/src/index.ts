// javascriptd-client: run scripts on a javascriptd daemon from Node.
//   const rt = await connect('ws://127.0.0.1:8765/', { secret });
//   const { value, console, time } = await rt.execute({ code, call, globals });

export type { ConnectOptions, ExecuteOptions, ExecutionResult, Script, ScriptParams, Usage } from './client.js';
export { Client, connect } from './client.js';
export type { ConnectionFailure } from './errors.js';
export { ConnectionError, ErrorCode, ExecutionError } from './errors.js';
