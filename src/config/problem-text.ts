// What a settings problem found by ajv says: the setting, what it accepts and
// the value given, so that the line alone says what to change.
import type { ErrorObject } from 'ajv';
import { clip } from '../text.js';
import { closest } from './lookalikes.js';

/** Spellings of a boolean read from the environment, in any case. */
export const BOOLEAN_WORDS = { true: ['true', '1', 'yes', 'on'], false: ['false', '0', 'no', 'off'] } as const;

/** `value` as the boolean it spells ('true' or 'false', as ajv reads them), or as given when it spells none. */
export function booleanWord(value: string): string {
  const word = value.trim().toLowerCase();
  if ((BOOLEAN_WORDS.true as readonly string[]).includes(word)) return 'true';
  return (BOOLEAN_WORDS.false as readonly string[]).includes(word) ? 'false' : value;
}

const TYPES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  boolean: `true or false (also ${BOOLEAN_WORDS.true.slice(1).join('/')} or ${BOOLEAN_WORDS.false.slice(1).join('/')})`,
  string: 'text',
  array: 'a list',
  object: 'an object',
};

/**
 * The rule `error` says was broken, for a value ajv was given with
 * `verbose: true` (so that `error.data` is the value). `hidden`: the value is a
 * secret, and is not echoed.
 */
export function brokenRule(error: ErrorObject, hidden: boolean): string {
  const params = error.params as Record<string, unknown>;
  const got = hidden || error.data === undefined ? '' : `, got ${clip(JSON.stringify(error.data), 80)}`;
  switch (error.keyword) {
    case 'type':
      return `must be ${TYPES[String(params.type)] ?? String(params.type)}${got}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).join(', ')}${got}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `${error.message}${got}`;
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const likely = closest(name, known);
      return `has no setting ${clip(JSON.stringify(name), 80)}${likely === undefined ? '' : ` (did you mean ${likely}?)`}`;
    }
    default:
      return `${error.message ?? 'is invalid'}${got}`;
  }
}
