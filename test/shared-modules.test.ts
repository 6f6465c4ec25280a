// Shared module instances (MODULE_INSTANCES=shared, the default): an isolate's
// executions get the same lodash, made once in the isolate's library realm and
// frozen there, so nothing one execution does to it reaches the next. One
// sandbox process: executions one after another run in the same isolate (its
// logs name it). With MODULE_INSTANCES=per-execution, each gets its own instance.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from './helpers/client.js';
import { isolatesUsed, useDaemon } from './helpers/daemon.js';
import { found } from './helpers/poll.js';

/** lodash, and a package whose initialisation throws. */
function modulePath(): string {
  const path = mkdtempSync(join(tmpdir(), 'javascriptd-shared-modules-'));
  symlinkSync(join(__dirname, '..', '..', 'node_modules', 'lodash'), join(path, 'lodash'));
  mkdirSync(join(path, 'fails-to-load'));
  writeFileSync(join(path, 'fails-to-load', 'package.json'), JSON.stringify({ name: 'fails-to-load', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(path, 'fails-to-load', 'index.js'), 'exports.half = "made"; throw new RangeError("fails-to-load cannot start");\n');
  return path;
}

/** Attempts, each run in strict code, that would leave something in a shared module or its realm; each says whether it took. */
const ATTEMPTS = `"use strict";
const _ = require("lodash");
const taken = {};
const attempt = (name, fn) => { try { fn(); taken[name] = "took"; } catch (e) { taken[name] = "refused"; } };
attempt("property on the module", () => { _.leaked = 1; });
attempt("replace a function", () => { _.chunk = () => "hijacked"; });
attempt("delete a function", () => { delete _.uniq; });
attempt("define a property", () => Object.defineProperty(_, "map", { value: () => "hijacked" }));
attempt("prototype of the module", () => Object.setPrototypeOf(_, null));
attempt("property of a function", () => { _.chunk.leaked = 1; });
attempt("mixin", () => _.mixin({ evil: () => "evil" }));
attempt("mixin, unbound", () => _.mixin.call(undefined, { evil: () => "evil" }));
attempt("templateSettings", () => { _.templateSettings.interpolate = /x/g; });
attempt("Array.prototype of its arrays", () => { Object.getPrototypeOf(_.chunk([1], 1)).leaked = 1; });
attempt("Array.prototype.push of its arrays", () => { Object.getPrototypeOf(_.chunk([1], 1)).push = () => 0; });
attempt("Object.prototype of its objects", () => { Object.getPrototypeOf(_.keyBy([{ id: 1 }], "id")).leaked = 1; });
attempt("Error.prototype of its errors", () => { try { _.debounce(1); } catch (e) { Object.getPrototypeOf(e).leaked = 1; } });
attempt("Function.prototype of its functions", () => { Object.getPrototypeOf(_.chunk).leaked = 1; });
attempt("constructor escape", () => { _.chunk.constructor("return globalThis")().leaked = 1; });
attempt("constructor.constructor escape", () => { _.chunk.constructor.constructor("return globalThis")().leaked = 1; });
// A lodash of its own, made from the shared one: its to change.
_.runInContext().mixin({ evil: () => "evil" });
taken;`;

const LOOKS = `"use strict";
const _ = require("lodash");
const array = _.chunk([1, 2, 3], 2);
const inherited = (value, name) => name in value;
[
  Object.keys(_).length > 250 && typeof _.leaked + typeof _.evil + typeof _.chunk.leaked,
  _.chunk([1, 2, 3], 2), typeof _.uniq, _.map([1], (x) => x + 1), Object.getPrototypeOf(_) !== null,
  String(_.templateSettings.interpolate),
  inherited(array, "leaked") || inherited(_.keyBy([{ id: 1 }], "id"), "leaked") || inherited(_.chunk, "leaked"),
  typeof Object.getPrototypeOf(array).push,
  typeof globalThis.leaked, Object.isFrozen(Array.prototype), typeof Array.prototype.leaked,
]`;

const PRISTINE = [
  'undefinedundefinedundefined',
  [[1, 2], [3]],
  'function',
  [2],
  true,
  '/<%=([\\s\\S]+?)%>/g',
  false,
  'function',
  'undefined',
  false,
  'undefined',
];

describe('shared module instances', () => {
  const daemon = useDaemon(() => ({ POOL_SIZE: '1', LOG_LEVEL: 'debug', MODULES: 'lodash,fails-to-load', MODULE_PATH: modulePath() }));
  let client: TestClient;
  before(async () => {
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
  });

  const isolates = () => isolatesUsed(daemon);
  /** The isolates of the `count` executions started after the first `since`, once all are logged. */
  const last = (since: number, count: number) =>
    found(() => (isolates().length >= since + count ? isolates().slice(since, since + count) : undefined), 'executions logged');

  it('refuses every change to the module, its functions and its realm, and the next execution on the isolate sees them pristine', async () => {
    const since = isolates().length;
    const first = await client.execute({ code: LOOKS });
    assert.deepEqual(first.payload?.value, PRISTINE);
    const tried = await client.execute({ code: ATTEMPTS });
    const taken = Object.entries((tried.payload?.value ?? {}) as Record<string, string>).filter(([, result]) => result !== 'refused');
    assert.deepEqual(taken, [], JSON.stringify(tried));
    const next = await client.execute({ code: LOOKS });
    assert.deepEqual(next.payload?.value, PRISTINE);
    const ran = await last(since, 3);
    assert.deepEqual(new Set(ran).size, 1, `all three ran in one isolate: ${JSON.stringify(ran)}`);
  });

  it('gives every execution the same instance, whose closures are shared (uniqueId counts on), while scripts keep built-ins of their own', async () => {
    const since = isolates().length;
    const first = await client.execute({ code: 'Array.prototype.mine = 1; globalThis.mine = 1; Number(require("lodash").uniqueId())' });
    const second = await client.execute({
      code: 'const _ = require("lodash"); [Number(_.uniqueId()), require("lodash") === _, typeof [].mine, typeof mine, _.chunk([1], 1) instanceof Array, Array.isArray(_.chunk([1], 1))]',
    });
    const [count, same, ...rest] = (second.payload?.value ?? []) as unknown[];
    assert.equal(count, (first.payload?.value as number) + 1);
    assert.deepEqual([same, ...rest], [true, 'undefined', 'undefined', false, true]);
    const ran = await last(since, 2);
    assert.equal(ran[1], ran[0]);
  });

  it("refuses the library realm's Function to a script (lodash's template)", async () => {
    const reply = await client.execute({ code: 'require("lodash").template("hi <%= name %>")({ name: "x" })' });
    assert.equal(reply.error?.message, 'TypeError: no access');
  });

  it('throws what a module threw while it was made, at each require, and the other modules work', async () => {
    for (let i = 0; i < 2; i++) {
      const reply = await client.execute({
        code: 'try { require("fails-to-load"); } catch (e) { [e.name, e.message, require("lodash").chunk([1], 1)] }',
      });
      assert.deepEqual(reply.payload?.value, ['RangeError', 'fails-to-load cannot start', [[1]]]);
    }
  });

  it('runs the execution after one that required a module and ran out of time as usual', async () => {
    const stopped = await client.execute({ code: 'const _ = require("lodash"); for (;;) _.chunk([1, 2], 1);', timeout: 100 });
    assert.equal(stopped.error?.code, 1002);
    const next = await client.execute({ code: LOOKS });
    assert.deepEqual(next.payload?.value, PRISTINE);
  });
});

describe('per-execution module instances', () => {
  const daemon = useDaemon({
    POOL_SIZE: '1',
    LOG_LEVEL: 'debug',
    MODULES: 'lodash',
    MODULE_PATH: join(__dirname, '..', '..', 'node_modules'),
    MODULE_INSTANCES: 'per-execution',
  });
  let client: TestClient;
  before(async () => {
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
  });

  it('gives each execution a fresh instance it may change, which the next does not see', async () => {
    const changed = await client.execute({
      code: '"use strict"; const _ = require("lodash"); _.leaked = 1; _.mixin({ evil: () => "evil" }); [_.evil(), _.chunk([1], 1) instanceof Array, Number(_.uniqueId())]',
    });
    assert.deepEqual(changed.payload?.value, ['evil', true, 1]);
    const next = await client.execute({
      code: 'const _ = require("lodash"); [typeof _.leaked, typeof _.evil, require("lodash") === _, Number(_.uniqueId())]',
    });
    assert.deepEqual(next.payload?.value, ['undefined', 'undefined', true, 1]);
  });
});
