// JSON Schema shorthands the settings tables' rows are written with.

/** An integer of at least `minimum`, defaulting to `fallback` if one is given. */
export const int = (minimum: number, fallback?: number) => ({
  type: 'integer',
  minimum,
  ...(fallback === undefined ? {} : { default: fallback }),
});

export const text = { type: 'string', minLength: 1 };
