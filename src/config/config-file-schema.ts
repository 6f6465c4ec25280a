// The JSON Schema of the CONFIG file, made from the key settings' rows: a file
// gives each key its own values of them, named in camelCase.
import { KEY_SETTINGS } from './key-settings.js';
import { text } from './schema-shorthands.js';
import type { Setting } from './types.js';

/** A setting's name in the CONFIG file: its environment name in camelCase (MEMORY_LIMIT: memoryLimit). */
export const fileName = (s: Setting) => s.env.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const withoutDefault = ({ default: _, ...schema }: Record<string, unknown>) => schema;
const fileSchemaOf = (s: Setting) => (s.list ? { type: 'array', items: s.schema } : withoutDefault(s.schema));

/** JSON Schema of the CONFIG file; config.schema.json at the package root is this, written out. */
export const CONFIG_FILE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'javascriptd CONFIG file',
  type: 'object',
  additionalProperties: false,
  required: ['keys'],
  properties: {
    keys: {
      description: "One entry per key, by name. A connection presenting a key's secret gets its policy.",
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,64}$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...Object.fromEntries(KEY_SETTINGS.map((s) => [fileName(s), { ...fileSchemaOf(s), description: s.help }])),
          secretEnv: { ...text, description: 'environment variable holding the secret (instead of secret)' },
        },
        not: { required: ['secret', 'secretEnv'] },
      },
    },
  },
};
