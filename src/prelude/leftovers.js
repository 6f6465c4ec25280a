// What an execution could otherwise leave behind on its isolate, to cost a
// later execution time or memory: the isolate-wide `Symbol.for` registry
// (replaced by one that lives and dies with the context), FinalizationRegistry
// callbacks that V8 runs whenever it collects, in whatever call is running
// then (deferred to this execution's own next call, dropped once it is over),
// and Atomics.waitAsync, whose wake-ups isolated-vm never delivers.
// Rule: as prelude.js: it runs after untrusted code, with intrinsics captured
// at load only.
const ReflectApply = Reflect.apply;
const ReflectDefineProperty = Reflect.defineProperty;
const ReflectDeleteProperty = Reflect.deleteProperty;
const MapCtor = Map;
const MapPrototypeGet = Map.prototype.get;
const MapPrototypeSet = Map.prototype.set;
const SymbolCtor = Symbol;
const StringCtor = String;
const TypeErrorCtor = TypeError;
const NativeFinalizationRegistry = FinalizationRegistry;
const { register: NativeRegister, unregister: NativeUnregister } = FinalizationRegistry.prototype;
const ArrayPrototypePush = Array.prototype.push;
const ArrayPrototypeSplice = Array.prototype.splice;

/**
 * Installs the per-execution replacements in `global`. `isOver()` tells when the
 * execution has its outcome; `run(fn, args)` calls script code, catching what it throws.
 * @returns {{ runCleanups(): void }} to call at the start of each call into the execution
 */
export function confine(global, isOver, run) {
  // Made on first use, as most scripts never register a symbol.
  let symbols;
  let keys;
  const registry = {
    for(key) {
      const name = StringCtor(key);
      symbols ??= new MapCtor();
      keys ??= new MapCtor();
      let symbol = ReflectApply(MapPrototypeGet, symbols, [name]);
      if (symbol === undefined) {
        symbol = SymbolCtor(name);
        ReflectApply(MapPrototypeSet, symbols, [name, symbol]);
        ReflectApply(MapPrototypeSet, keys, [symbol, name]);
      }
      return symbol;
    },
    keyFor(symbol) {
      if (typeof symbol !== 'symbol') throw new TypeErrorCtor(`${StringCtor(symbol)} is not a symbol`);
      return keys === undefined ? undefined : ReflectApply(MapPrototypeGet, keys, [symbol]);
    },
  };
  for (const name of ['for', 'keyFor']) {
    ReflectDefineProperty(SymbolCtor, name, { value: registry[name], writable: true, configurable: true, enumerable: false });
  }

  const cleanups = [];
  function makeFinalizationRegistry() {
    // biome-ignore lint/suspicious/noShadowRestrictedNames: the replacement carries the built-in's name, as scripts (and stack traces) expect.
    class FinalizationRegistry {
      #registry;
      constructor(cleanup) {
        if (typeof cleanup !== 'function') throw new TypeErrorCtor('FinalizationRegistry: cleanup must be callable');
        this.#registry = new NativeFinalizationRegistry((held) => {
          if (!isOver()) ReflectApply(ArrayPrototypePush, cleanups, [[cleanup, held]]);
        });
      }
      register(target, held, token) {
        ReflectApply(NativeRegister, this.#registry, token === undefined ? [target, held] : [target, held, token]);
      }
      unregister(token) {
        return ReflectApply(NativeUnregister, this.#registry, [token]);
      }
    }
    ReflectDefineProperty(FinalizationRegistry.prototype, SymbolCtor.toStringTag, { value: 'FinalizationRegistry', configurable: true });
    return FinalizationRegistry;
  }
  // Made on first use, as most scripts never touch it.
  const install = (value) =>
    ReflectDefineProperty(global, 'FinalizationRegistry', { value, writable: true, configurable: true, enumerable: false });
  ReflectDefineProperty(global, 'FinalizationRegistry', {
    get() {
      const made = makeFinalizationRegistry();
      install(made);
      return made;
    },
    set: install,
    configurable: true,
    enumerable: false,
  });

  ReflectDeleteProperty(global.Atomics, 'waitAsync');

  return {
    runCleanups() {
      if (cleanups.length === 0) return;
      const due = ReflectApply(ArrayPrototypeSplice, cleanups, [0]);
      for (let i = 0; i < due.length; i++) run(due[i][0], [due[i][1]]);
    },
  };
}
