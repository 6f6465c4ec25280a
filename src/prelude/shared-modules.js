// `require` with shared module instances (MODULE_INSTANCES=shared): the
// isolate's library realm (src/prelude-library/library.js) made each allowed
// module once, frozen, and every execution's require hands out the same.
// Rule: as prelude.js. The realm's modules come from the host as an
// ivm.Reference, taken apart here at once: neither the Reference nor the
// table of modules is ever reachable from anything the script can touch.

import { text } from './text.js';

const ErrorCtor = Error;
const ObjectHasOwn = Object.hasOwn;
const MapCtor = Map;
const MapPrototypeGet = Map.prototype.get;
const MapPrototypeSet = Map.prototype.set;
const ReflectApply = Reflect.apply;

/**
 * @param {{ deref(): object } | undefined} library the realm's modules, if the isolate has made them; else asked for on first require
 * @param {(op: string) => { deref(): object }} hostSync
 * @param {string[]} names the modules scripts may require
 * @param {(name: string) => void} onLoad tells the host which modules a script required
 */
export function sharedRequire(library, hostSync, names, onLoad) {
  let modules = library === undefined ? undefined : library.deref();
  const allowed = { __proto__: null };
  for (let i = 0; i < names.length; i++) allowed[names[i]] = true;
  const reported = new MapCtor();
  return function require(name) {
    const key = text(name, '');
    if (!ObjectHasOwn(allowed, key)) throw new ErrorCtor(`module '${key}' is not allowed`);
    if (ReflectApply(MapPrototypeGet, reported, [key]) === undefined) {
      ReflectApply(MapPrototypeSet, reported, [key, true]);
      onLoad(key);
    }
    if (modules === undefined) modules = hostSync('library').deref();
    if (!ObjectHasOwn(modules, key)) throw new ErrorCtor(`module '${key}' is not allowed`);
    const made = modules[key];
    // As Node does, a module that failed to initialise throws again at each require.
    if (ObjectHasOwn(made, 'error')) throw made.error;
    return made.exports;
  };
}
