// The tables of docs/settings.md, made from the settings table as --help and
// config.schema.json are: `npm run docs:settings` writes them between the
// markers, and a test fails when the doc holds anything else there.
import { BOOLEAN_WORDS } from './problem-text.js';
import { SETTINGS } from './settings.js';
import type { Setting } from './types.js';

export const TABLES_BEGIN = '<!-- settings tables: generated from src/config/ by `npm run docs:settings`; change the rows there -->';
export const TABLES_END = '<!-- end of the generated settings tables -->';

/** A setting's default as --help and the doc give it: in words where the row has them, else the schema's. */
export function defaultOf(s: Setting): string | undefined {
  const fallback = (s.schema as { default?: unknown }).default;
  return s.defaultText ?? (fallback === undefined ? undefined : String(fallback));
}

const NAMES = new RegExp(
  `\\b(${SETTINGS.map((s) => s.env)
    .sort((a, b) => b.length - a.length)
    .join('|')})(=[\\w.:-]+)?\\b`,
  'g',
);

/** Plain help text as Markdown: table and emphasis characters escaped, setting names as code. */
function markdown(text: string): string {
  return text
    .replace(/[\\|*]/g, (c) => `\\${c}`)
    .replaceAll('<', '&lt;')
    .replace(NAMES, (name) => `\`${name}\``);
}

/** What the environment accepts for a setting, read from its schema. */
function accepted(s: Setting): string {
  const schema = s.schema as { type?: string; enum?: string[]; minimum?: number; maximum?: number; exclusiveMinimum?: number };
  if (schema.enum !== undefined) return schema.enum.map((value) => `\`${value}\``).join(', ');
  if (schema.type === 'boolean')
    return `\`true\` or \`false\` (also ${[...BOOLEAN_WORDS.true.slice(1), ...BOOLEAN_WORDS.false.slice(1)].map((w) => `\`${w}\``).join(', ')})`;
  if (schema.type === 'integer') {
    if (schema.maximum !== undefined) return `integer, ${schema.minimum}–${schema.maximum}`;
    return `integer, at least ${schema.minimum}`;
  }
  if (schema.type === 'number' && schema.exclusiveMinimum !== undefined) return `number, over ${schema.exclusiveMinimum}`;
  return s.list ? 'comma-separated list' : 'text';
}

function table(scope: Setting['scope']): string[] {
  return [
    '| variable | default | accepted | meaning |',
    '| --- | --- | --- | --- |',
    ...SETTINGS.filter((s) => s.scope === scope).map((s) => {
      const fallback = defaultOf(s);
      return `| \`${s.env}\` | ${fallback === undefined ? '—' : markdown(fallback)} | ${accepted(s)} | ${markdown(s.help)} |`;
    }),
  ];
}

/** The generated part of docs/settings.md, markers included. */
export function settingsTables(): string {
  return [
    TABLES_BEGIN,
    '',
    ...table('server'),
    '',
    'Per key (in the environment for the single key, or per key in `CONFIG`, in camelCase):',
    '',
    ...table('key'),
    '',
    TABLES_END,
  ].join('\n');
}

/** `doc` with its generated tables replaced by today's; throws when it has no markers. */
export function withSettingsTables(doc: string): string {
  const begin = doc.indexOf(TABLES_BEGIN);
  const end = doc.indexOf(TABLES_END);
  if (begin === -1 || end < begin) throw new Error(`no "${TABLES_BEGIN}" … "${TABLES_END}" in the doc`);
  return doc.slice(0, begin) + settingsTables() + doc.slice(end + TABLES_END.length);
}
