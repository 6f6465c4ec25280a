// javascriptd-client/cli: the `run` command's table and the table machinery,
// for a CLI that embeds `run` (the daemon's `javascriptd run` is this one).
export { type Command, HELP, help, type Option, parse, say, UsageError, usageLine, type Values, versionAt } from './command.js';
export { EXIT, run } from './run-command.js';
