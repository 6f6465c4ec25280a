// `javascriptd run <file>` is javascriptd-client's `run` command
// (packages/client/src/cli/run-command.ts).
export { EXIT, run } from 'javascriptd-client/cli';
