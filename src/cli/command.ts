// The command tables' machinery lives in javascriptd-client (its `run` command
// is the daemon's too); the daemon's commands use it from here.
export { type Command, HELP, help, type Option, parse, say, UsageError, usageLine, type Values, versionAt } from 'javascriptd-client/cli';
