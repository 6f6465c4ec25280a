// The library realm: a context of its own in an isolate, where the key's
// allowlisted modules are made once and shared, frozen, by the executions the
// isolate runs one after another (src/executor/library-realm.ts). Nothing of
// it runs until a script first requires a module: then the host runs it in a
// context of its own, SES's `lockdown()` freezes this
// realm's intrinsics, every allowed module is made, and `harden()` freezes
// the modules and this realm's global object (should a module hand it out), so
// that no execution can leave anything in the realm for the next.
//
// Scripts' own contexts are not locked down: they keep mutable built-ins.

import { lockdownShim } from 'javascriptd:ses';

const JSONParse = JSON.parse;
const ObjectHasOwn = Object.hasOwn;
const ErrorCtor = Error;
const StringCtor = String;

/**
 * Chosen for scripts, which see this realm's errors and objects:
 * - errorTaming 'unsafe': errors keep their `stack` as V8 makes it, as a
 *   script's own do (SES's 'safe' hides it from code that does not hold
 *   the error; here only the script that made the call ever holds it);
 * - stackFiltering 'verbose': frames are not rewritten;
 * - overrideTaming 'moderate' (SES's default): assigning `constructor`,
 *   `toString`, `valueOf` and the like to an object inheriting a frozen
 *   prototype works as it does unfrozen; other inherited names throw in
 *   strict code (the "override mistake"). 'severe' would cover every name,
 *   at the cost of an accessor on every intrinsic method this realm calls;
 * - consoleTaming 'unsafe': this realm has no console to tame;
 * - evalTaming 'no-eval': nothing here evaluates code (a script's call into
 *   this realm's Function or eval is refused by V8 across contexts anyway).
 */
const LOCKDOWN_OPTIONS = {
  errorTaming: 'unsafe',
  stackFiltering: 'verbose',
  overrideTaming: 'moderate',
  consoleTaming: 'unsafe',
  evalTaming: 'no-eval',
};

/**
 * Makes the realm: run by the host in this realm's context (SES needs its own
 * context entered to evaluate: V8 refuses its dynamic code to a caller in
 * another), once per isolate, when a script first requires a module.
 * @param {Record<string, (module: object, exports: object, require: Function) => void>} factories the modules' bodies
 * @param {string} allowedJson the names scripts may require, as JSON
 * @returns {Record<string, { exports: unknown } | { error: unknown }>} each allowed module, made (hardened)
 */
export function makeModules(factories, allowedJson) {
  return makeRealm(factories, JSONParse(allowedJson));
}

function makeRealm(factories, allowed) {
  lockdownShim();
  globalThis.lockdown(LOCKDOWN_OPTIONS);
  const { harden } = globalThis;
  const table = { __proto__: null };
  for (let i = 0; i < allowed.length; i++) {
    const name = allowed[i];
    if (ObjectHasOwn(factories, name)) table[name] = instantiate(name, factories[name]);
  }
  harden(table);
  // Nothing may be left on this realm's global object for a later execution to find.
  harden(globalThis);
  return table;
}

/** A module made once: its exports, or what it threw while it was made (thrown again at each require, as Node does not keep it). */
function instantiate(name, factory) {
  const module = { exports: {} };
  // A bundle only requires what esbuild left out: Node builtins.
  const require = (dependency) => {
    throw new ErrorCtor(`module '${name}' needs the Node builtin '${StringCtor(dependency)}', which scripts cannot use`);
  };
  try {
    factory.call(module.exports, module, module.exports, require);
    return { exports: module.exports };
  } catch (error) {
    return { error };
  }
}
