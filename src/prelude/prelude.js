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

import { onDemand } from 'javascriptd:on-demand';
import { webApiGroup } from 'javascriptd:web-apis';
import inspect from 'object-inspect';
import { makeConsole } from './console.js';
import { makeFetchGate } from './fetch-gate.js';
import { hostLink } from './host.js';
import { confine } from './leftovers.js';
import { sharedRequire } from './shared-modules.js';
import { clip, text, utf8Length } from './text.js';

const ReflectApply = Reflect.apply;
const ReflectDefineProperty = Reflect.defineProperty;
const ReflectDeleteProperty = Reflect.deleteProperty;
const ReflectOwnKeys = Reflect.ownKeys;
const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const { isError } = Error;
const ArrayIsArray = Array.isArray;
const RangeErrorCtor = RangeError;
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
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
// biome-ignore lint/security/noGlobalEval: indirect eval evaluates the request's `caller` source in the script's own global scope, as the original javascriptd does.
const indirectEval = eval;

/** Globals made on a script's first touch of one: the web-apis group (web-apis.js), and core-js's (on-demand.js) one by one. */
const WEB_APIS = [
  'TextEncoder',
  'TextDecoder',
  'AbortController',
  'AbortSignal',
  'EventTarget',
  'Event',
  'DOMException',
  'crypto',
  'Headers',
  'Request',
  'Response',
  'fetch',
];
const ON_DEMAND = ['URL', 'URLSearchParams', 'atob', 'btoa', 'structuredClone'];

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const MAX_DELAY = 2147483647;

function then(promise, onValue, onError) {
  ReflectApply(PromisePrototypeThen, ReflectApply(PromiseResolve, NativePromise, [promise]), [onValue, onError]);
}

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

/**
 * Name, message and stack of anything thrown, read inside the isolate so hostile
 * getters run under the deadline, and cut to `limits` before they are copied out.
 */
function describe(thrown, limits) {
  try {
    if (isError(thrown)) {
      return [
        clip(text(thrown.name, 'Error'), limits.nameChars),
        clip(text(thrown.message, ''), limits.messageChars),
        clip(text(thrown.stack, ''), limits.stackChars),
      ];
    }
    return ['Error', clip(`Uncaught ${inspect(thrown, { depth: 2 })}`, limits.messageChars), ''];
  } catch {
    return ['Error', 'Uncaught exception that could not be described', ''];
  }
}

/**
 * JSON of a result, or the error saying it is over `limitBytes`. What the JSON
 * will hold is summed as it is made (strings and keys by length, which can only
 * undercount bytes), so a huge result is refused before it is made, let alone
 * copied out; `size` is then that lower bound. A result nested deeper than
 * `maxDepth` throws, as a cyclic one does: a client parsing it would recurse.
 */
function resultJson(value, limitBytes, maxDepth) {
  let atLeast = 0;
  let root = true;
  // The objects being serialized, innermost first (JSON.stringify walks depth first, calling with each object as `this`).
  let open = null;
  let depth = 0;
  const tooLarge = {};
  function measure(key, member) {
    // A string takes its characters and quotes; anything else at least a character; a key in an object its characters, quotes and colon.
    atLeast += typeof member === 'string' ? member.length + 2 : 1;
    if (!root && !ArrayIsArray(this)) atLeast += key.length + 3;
    root = false;
    if (atLeast > limitBytes) throw tooLarge;
    while (open !== null && open.value !== this) {
      open = open.outer;
      depth--;
    }
    if (typeof member === 'object' && member !== null) {
      if (depth === maxDepth) throw new RangeErrorCtor(`nested deeper than ${maxDepth} levels (MAX_DEPTH)`);
      open = { value: member, outer: open };
      depth++;
    }
    return member;
  }
  let json;
  try {
    json = JSONStringify(value, measure);
  } catch (error) {
    if (error === tooLarge) return { tooLarge: atLeast };
    throw error;
  }
  if (json === undefined) return { json: 'null' };
  // Only non-ASCII can make the bytes outnumber the characters up to threefold.
  const size = json.length * 3 <= limitBytes ? json.length : utf8Length(json);
  return size > limitBytes ? { tooLarge: size } : { json };
}

const ObjectHasOwn = Object.hasOwn;

/**
 * `require` for one execution: each allowlisted module is instantiated at most
 * once per execution, from its factory, so no module state outlives it;
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
  return require;
}

/** The factories of the modules `names` allows: the prelude may hold more (a runtime image's, whose code cache covers them all). */
function allowedOnly(factories, names) {
  const allowed = { __proto__: null };
  for (let i = 0; i < names.length; i++) if (ObjectHasOwn(factories, names[i])) allowed[names[i]] = factories[names[i]];
  return allowed;
}

/**
 * @param {Record<string, (module: object, exports: object, require: Function) => void>} modules module factories, of which `limits.modules` are allowed
 *   (none with `limits.sharedModules`: the isolate's library realm holds them)
 * @param {(op: string, ...args: unknown[]) => void} host asynchronous: console, timers, fetches, the outcome
 * @param {(op: string, ...args: unknown[]) => Uint8Array} hostSync synchronous: random bytes and digests
 * @param {string} limitsJson `{ consoleBytes, resultBytes, resultDepth, fetchMaxBytes, fetchMaxRequests,
 *   maxPendingTimers, modules, sharedModules, nameChars, messageChars, stackChars }`, applied here before anything is copied out of the isolate
 * @param {{ deref(): Function } | undefined} library with shared modules, the library realm's loader once the isolate has made it (shared-modules.js)
 */
export function setup(modules, hostAsync, hostCall, limitsJson, library) {
  const global = globalThis;
  const limits = JSONParse(limitsJson);
  const { host, hostSync, begin, settle } = hostLink(hostAsync, hostCall);
  let finished = false;
  const { console, flush } = makeConsole(host, limits.consoleBytes);

  /** Every outcome goes through here: the console's last counts first. */
  function finish(op, a, b, c) {
    if (finished) return;
    finished = true;
    flush();
    host(op, a, b, c);
  }

  function finishValue(value) {
    if (finished) return;
    let result;
    try {
      result = resultJson(value, limits.resultBytes, limits.resultDepth);
    } catch (error) {
      const described = describe(error, limits);
      finish('error', described[0], `result could not be serialized to JSON: ${described[1]}`, '');
      return;
    }
    if (result.json === undefined) finish('too-large', result.tooLarge);
    else finish('value', result.json);
  }

  function fail(thrown) {
    if (finished) return;
    const described = describe(thrown, limits);
    finish('error', described[0], described[1], described[2]);
  }

  function guarded(fn, self, args) {
    try {
      ReflectApply(fn, self, args);
    } catch (thrown) {
      fail(thrown);
    }
  }

  // Timers live here; the host only keeps one clock per id and calls `enter('fire', id)`.
  const timers = new MapCtor();
  let lastTimerId = 0;
  function addTimer(fn, delay, args, repeat) {
    if (typeof fn !== 'function') throw new TypeErrorCtor('The "callback" argument must be of type function');
    if (timers.size >= limits.maxPendingTimers) throw new RangeErrorCtor(`more than ${limits.maxPendingTimers} pending timers`);
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

  const onLoad = (name) => host('require', name);
  const require = limits.sharedModules
    ? sharedRequire(library, hostSync, limits.modules, onLoad)
    : makeRequire(allowedOnly(modules, limits.modules), onLoad);
  const fetchGate = makeFetchGate(host, limits);
  let web;
  let makingWeb = false;
  // While the group is made, its own code may look for these globals (event-target-shim does): they are not there yet.
  const webApi = (key) => {
    if (web === undefined && !makingWeb) {
      makingWeb = true;
      try {
        web = webApiGroup().webApis(fetchGate, hostSync);
      } finally {
        makingWeb = false;
      }
    }
    return web?.values[key];
  };
  const api = {
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
    require,
  };
  for (const key of ReflectOwnKeys(api)) {
    ReflectDefineProperty(global, key, { value: api[key], writable: true, configurable: true, enumerable: false });
  }
  // Each an accessor that replaces itself with its value once made (or with what a script assigns).
  const onFirstTouch = (key, make) => {
    const install = (value) => ReflectDefineProperty(global, key, { value, writable: true, configurable: true, enumerable: false });
    const get = () => {
      const value = make();
      if (value !== undefined) install(value);
      return value;
    };
    ReflectDefineProperty(global, key, { get, set: install, configurable: true, enumerable: false });
  };
  for (const key of WEB_APIS) onFirstTouch(key, () => webApi(key));
  for (const key of ON_DEMAND) onFirstTouch(key, () => onDemand()[key]());

  // WebAssembly memory is allocated outside the isolate's memory limit, so it is not offered.
  ReflectDeleteProperty(global, 'WebAssembly');
  const leftovers = confine(
    global,
    () => finished,
    (fn, args) => guarded(fn, undefined, args),
  );
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

  /** `find` looks `call` up: among the globals for a classic script, among the exports for a module. */
  function start(completion, call, callerSource, find) {
    if (call === null) {
      if (isThenable(completion)) then(completion, finishValue, fail);
      else finishValue(completion);
      return;
    }
    const callee = find(call);
    if (callee === undefined) {
      finish('missing');
      return;
    }
    let caller = defaultCaller;
    if (callerSource !== null) {
      caller = indirectEval(`(${callerSource}\n)\n//# sourceURL=caller.js`);
      if (typeof caller !== 'function') throw new TypeErrorCtor('caller must be the source of a function expression');
    }
    const cb = (value) => {
      finishValue(value);
    };
    const wrappedCallee = function (...args) {
      const returned = ReflectApply(callee, this, args);
      if (isThenable(returned)) then(returned, finishValue, fail);
      return returned;
    };
    ReflectApply(caller, undefined, [wrappedCallee, cb]);
  }

  /** A module's value without `call` is its default export (null without one); `call` names an export. */
  function startModule(namespace, call, callerSource) {
    const exported = (name) => {
      if (!ObjectHasOwn(namespace, name)) return undefined;
      const value = namespace[name];
      return typeof value === 'function' ? value : undefined;
    };
    start(ObjectHasOwn(namespace, 'default') ? namespace.default : null, call, callerSource, exported);
  }

  // Never throws: everything the script does comes back through `host`. The
  // ops that run script code run due FinalizationRegistry callbacks first.
  return function enter(op, a, b, c) {
    if (op === 'begin') {
      begin(a);
      if (b !== null) defineGlobals(b);
      return;
    }
    leftovers.runCleanups();
    if (op === 'start') guarded(start, undefined, [a, b, c, lookup]);
    else if (op === 'start-module') guarded(startModule, undefined, [a, b, c]);
    else if (op === 'fire') fire(a);
    // A fetch was made, so the web APIs were.
    else if (op === 'fetched') guarded(web.settle, undefined, [a, b, undefined]);
    else if (op === 'fetch-failed') guarded(web.settle, undefined, [a, undefined, b]);
    settle();
  };
}
