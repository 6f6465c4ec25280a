// The in-isolate half of an execution. The host runs this once in every fresh
// context, before the script, and gets back `enter`, its only way in.
//
// Rules for this file, because untrusted code runs in the same realm after it:
// - intrinsics are captured at load time and called through Reflect.apply, so a
//   script that replaces JSON, Promise.prototype.then or Array.prototype.* cannot
//   change how results, errors or timers are handled;
// - `host` (the only link to the daemon) is called directly and never passed to,
//   stored on, or reachable from anything the script can touch; the daemon
//   validates everything it receives through it anyway.
import { Headers, Request, Response, makeFetch } from './fetch.js';
import { format } from './format.js';
import { webApis } from './web.js';
import { onDemand } from 'javascriptd:on-demand';
import inspect from 'object-inspect';

const ReflectApply = Reflect.apply;
const ReflectDefineProperty = Reflect.defineProperty;
const ReflectDeleteProperty = Reflect.deleteProperty;
const ReflectOwnKeys = Reflect.ownKeys;
const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const { isError } = Error;
const StringCtor = String;
const MathMin = Math.min;
const MathMax = Math.max;
const NumberCtor = Number;
const NumberIsFinite = Number.isFinite;
const NativePromise = Promise;
const PromiseResolve = Promise.resolve;
const PromisePrototypeThen = Promise.prototype.then;
const MapCtor = Map;
const MapPrototypeGet = Map.prototype.get;
const MapPrototypeSet = Map.prototype.set;
const MapPrototypeDelete = Map.prototype.delete;
const RegExpPrototypeExec = RegExp.prototype.exec;
const StringPrototypeSlice = String.prototype.slice;
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const indirectEval = eval;

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const MAX_DELAY = 2147483647;

function then(promise, onValue, onError) {
  ReflectApply(PromisePrototypeThen, ReflectApply(PromiseResolve, NativePromise, [promise]), [onValue, onError]);
}

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

function text(value, fallback) {
  try {
    return value === undefined ? fallback : StringCtor(value);
  } catch {
    return fallback;
  }
}

/** Name, message and stack of anything thrown, read inside the isolate so hostile getters run under the deadline. */
function describe(thrown) {
  try {
    if (isError(thrown)) return [text(thrown.name, 'Error'), text(thrown.message, ''), text(thrown.stack, '')];
    return ['Error', `Uncaught ${inspect(thrown, { depth: 2 })}`, ''];
  } catch {
    return ['Error', 'Uncaught exception that could not be described', ''];
  }
}

const ObjectHasOwn = Object.hasOwn;

/**
 * `require` for one execution: each allowlisted module is instantiated at most
 * once per execution, from its factory, so no module state outlives it.
 * `preload` instantiates modules in a context made ahead of its execution
 * (those the sandbox's previous execution used), before any script runs there;
 * `onLoad` tells the host which modules a script required.
 */
function makeRequire(modules, onLoad) {
  const instances = new MapCtor();
  const reported = new MapCtor();
  const load = (name) => {
    const loaded = ReflectApply(MapPrototypeGet, instances, [name]);
    if (loaded !== undefined) return loaded.exports;
    const module = { exports: {} };
    ReflectApply(MapPrototypeSet, instances, [name, module]);
    try {
      ReflectApply(modules[name], module.exports, [module, module.exports, dependencyRequire(name)]);
    } catch (error) {
      // As Node does: a module that failed to initialise is not kept half-made.
      ReflectApply(MapPrototypeDelete, instances, [name]);
      throw error;
    }
    return module.exports;
  };
  // A bundle only requires what esbuild left out: Node builtins.
  const dependencyRequire = (owner) => (dependency) => {
    throw new ErrorCtor(`module '${owner}' needs the Node builtin '${text(dependency, '')}', which scripts cannot use`);
  };
  function require(name) {
    const key = text(name, '');
    if (!ObjectHasOwn(modules, key)) throw new ErrorCtor(`module '${key}' is not allowed`);
    if (ReflectApply(MapPrototypeGet, reported, [key]) === undefined) {
      ReflectApply(MapPrototypeSet, reported, [key, true]);
      onLoad(key);
    }
    return load(key);
  }
  function preload(names) {
    for (let i = 0; i < names.length; i++) {
      try {
        if (ObjectHasOwn(modules, names[i])) load(names[i]);
      } catch {
        // It fails again, in front of the script, if the script requires it.
      }
    }
  }
  return { require, preload };
}

/**
 * @param {Record<string, (module: object, exports: object, require: Function) => void>} modules allowlisted module factories
 * @param {(op: string, ...args: unknown[]) => void} host asynchronous: console, timers, fetches, the outcome
 * @param {(op: string, ...args: unknown[]) => Uint8Array} hostSync synchronous: random bytes and digests
 * @param {number} lineLimit longest console line sent to the host, in characters
 */
export function setup(modules, host, hostSync, lineLimit) {
  const global = globalThis;
  let finished = false;

  function finishValue(value) {
    if (finished) return;
    finished = true;
    let json;
    try {
      json = JSONStringify(value);
    } catch (error) {
      const described = describe(error);
      host('error', described[0], `result could not be serialized to JSON: ${described[1]}`, '');
      return;
    }
    host('value', json === undefined ? 'null' : json);
  }

  function fail(thrown) {
    if (finished) return;
    finished = true;
    const described = describe(thrown);
    host('error', described[0], described[1], described[2]);
  }

  function guarded(fn, self, args) {
    try {
      ReflectApply(fn, self, args);
    } catch (thrown) {
      fail(thrown);
    }
  }

  // console: every method formats one line and hands it to the host.
  function emit(args) {
    let line = format(args);
    if (line.length > lineLimit) line = ReflectApply(StringPrototypeSlice, line, [0, lineLimit]);
    host('log', line);
  }
  const console = {};
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    console[method] = function (...args) {
      emit(args);
    };
  }
  console.dir = function (value) {
    emit([inspect(value, { depth: 3 })]);
  };

  // Timers live here; the host only keeps one clock per id and calls `enter('fire', id)`.
  const timers = new MapCtor();
  let lastTimerId = 0;
  function addTimer(fn, delay, args, repeat) {
    if (typeof fn !== 'function') throw new TypeErrorCtor('The "callback" argument must be of type function');
    let ms = NumberCtor(delay);
    ms = NumberIsFinite(ms) ? MathMin(MathMax(ms, 0), MAX_DELAY) : 0;
    const id = ++lastTimerId;
    ReflectApply(MapPrototypeSet, timers, [id, { fn, args, ms, repeat }]);
    host('set', id, ms);
    return id;
  }
  function clearTimer(id) {
    if (ReflectApply(MapPrototypeDelete, timers, [id])) host('clear', id);
  }
  function fire(id) {
    const timer = ReflectApply(MapPrototypeGet, timers, [id]);
    if (timer === undefined) return;
    if (timer.repeat) host('set', id, timer.ms);
    else ReflectApply(MapPrototypeDelete, timers, [id]);
    guarded(timer.fn, undefined, timer.args);
  }

  const moduleLoader = makeRequire(modules, (name) => host('require', name));
  const fetcher = makeFetch(host);
  const web = webApis(hostSync);
  const api = {
    ...web.values,
    Headers,
    Request,
    Response,
    fetch: fetcher.fetch,
    console,
    setTimeout(fn, delay, ...args) {
      return addTimer(fn, delay, args, false);
    },
    setInterval(fn, delay, ...args) {
      return addTimer(fn, delay, args, true);
    },
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    queueMicrotask(fn) {
      if (typeof fn !== 'function') throw new TypeErrorCtor('The "callback" argument must be of type function');
      then(undefined, () => guarded(fn, undefined, []), undefined);
    },
    require: moduleLoader.require,
  };
  for (const key of ReflectOwnKeys(api)) {
    ReflectDefineProperty(global, key, { value: api[key], writable: true, configurable: true, enumerable: false });
  }
  for (const key of web.lazy) {
    const install = (value) => ReflectDefineProperty(global, key, { value, writable: true, configurable: true, enumerable: false });
    const get = () => {
      const value = onDemand()[key]();
      install(value);
      return value;
    };
    ReflectDefineProperty(global, key, { get, set: install, configurable: true, enumerable: false });
  }

  // WebAssembly memory is allocated outside the isolate's memory limit, so it is not offered.
  ReflectDeleteProperty(global, 'WebAssembly');
  // V8 would call a script's Error.prepareStackTrace while isolated-vm copies an
  // escaping error out of the isolate, where no deadline applies.
  ReflectDefineProperty(Error, 'prepareStackTrace', { get() {}, set() {}, configurable: false });

  /** Own keys of the caller's globals become globals of this context, before the script runs. */
  function defineGlobals(globalsJson) {
    const globals = JSONParse(globalsJson);
    for (const key of ReflectOwnKeys(globals)) {
      ReflectDefineProperty(global, key, { value: globals[key], writable: true, configurable: true, enumerable: true });
    }
  }

  function lookup(name) {
    const found = global[name];
    if (typeof found === 'function') return found;
    // Top-level `const`/`let`/`class` bindings are not properties of the global object.
    if (ReflectApply(RegExpPrototypeExec, IDENTIFIER, [name]) === null) return undefined;
    try {
      const binding = indirectEval(name);
      return typeof binding === 'function' ? binding : undefined;
    } catch {
      return undefined;
    }
  }

  function defaultCaller(callee, cb) {
    callee(cb);
  }

  function start(completion, call, callerSource) {
    if (call === null) {
      if (isThenable(completion)) then(completion, finishValue, fail);
      else finishValue(completion);
      return;
    }
    const callee = lookup(call);
    if (callee === undefined) {
      finished = true;
      host('missing');
      return;
    }
    let caller = defaultCaller;
    if (callerSource !== null) {
      caller = indirectEval(`(${callerSource}\n)\n//# sourceURL=caller.js`);
      if (typeof caller !== 'function') throw new TypeErrorCtor('caller must be the source of a function expression');
    }
    const cb = function (value) {
      finishValue(value);
    };
    const wrappedCallee = function (...args) {
      const returned = ReflectApply(callee, this, args);
      if (isThenable(returned)) then(returned, finishValue, fail);
      return returned;
    };
    ReflectApply(caller, undefined, [wrappedCallee, cb]);
  }

  // Never throws: everything the script does comes back through `host`. An
  // unknown op (the host sends 'flush') does nothing.
  return function enter(op, a, b, c) {
    if (op === 'globals') defineGlobals(a);
    else if (op === 'preload') moduleLoader.preload(a);
    else if (op === 'start') guarded(start, undefined, [a, b, c]);
    else if (op === 'fire') fire(a);
    else if (op === 'fetched') guarded(fetcher.settle, undefined, [a, b, undefined]);
    else if (op === 'fetch-failed') guarded(fetcher.settle, undefined, [a, undefined, b]);
  };
}
