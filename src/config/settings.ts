// The settings table, the single source of the settings: it makes the env
// parser and validators (read-config.ts), the JSON Schema of the CONFIG file
// (config-file-schema.ts, written out as config.schema.json) and `--help`.
// It loads no ajv, so that --help and `health` stay light.
import { KEY_SETTINGS } from './key-settings.js';
import { text } from './schema-shorthands.js';
import { SERVER_SETTINGS } from './server-settings.js';
import type { Setting } from './types.js';

/** Every setting, in the order --help lists them: the server's, the key's, then CONFIG (which makes the keys). */
export const SETTINGS: readonly Setting[] = [
  ...SERVER_SETTINGS,
  ...KEY_SETTINGS,
  {
    env: 'CONFIG',
    scope: 'server',
    field: 'keys',
    schema: text,
    help: 'JSON file defining several keys, each with its own secret, modules, fetch rules and limits',
  },
];
