// The cases of the original javascriptd's own test suite (progrium/javascriptd,
// daemon_test.js), replayed against this daemon with the suite's exact
// comparison: each reply, as its Duplex client hands it over ({error, result},
// time removed), deep-equals what the original daemon answered. Written from
// that suite's behaviour, not copied from it.
import assert from 'node:assert/strict';
import { TestClient } from './helpers/client.js';
import { useDaemon } from './helpers/daemon.js';

interface Case {
  /** Also the function the script defines and `call` names, as in the original. */
  name: string;
  code: string;
  result?: { value?: unknown; console?: string[] };
  error?: { code: number; message: string };
}

const CASES: Case[] = [
  { name: 'notImplemented', code: '', error: { code: 1001, message: 'Not implemented' } },
  { name: 'callbackNoArg', code: 'function callbackNoArg(cb) { cb(); }' },
  { name: 'callbackIgnoreMultipleArgs', code: 'function callbackIgnoreMultipleArgs(cb) { cb(1, 2, 3); }', result: { value: 1 } },
  { name: 'callbackBool', code: 'function callbackBool(cb) { cb(true); }', result: { value: true } },
  { name: 'callbackString', code: 'function callbackString(cb) { cb("foobar"); }', result: { value: 'foobar' } },
  { name: 'callbackArray', code: 'function callbackArray(cb) { cb([3, 2, 1]); }', result: { value: [3, 2, 1] } },
  { name: 'callbackObject', code: 'function callbackObject(cb) { cb({ foobar: "foobar" }); }', result: { value: { foobar: 'foobar' } } },
  {
    name: 'consoleLogs',
    code: 'function consoleLogs(cb) { var baz = "baz"; console.log("foo", "bar", baz); console.log("second log"); cb(); }',
    result: { console: ['foo bar baz', 'second log'] },
  },
];

describe('the original javascriptd test suite, replayed', () => {
  const daemon = useDaemon();

  for (const c of CASES) {
    it(c.name, async () => {
      const client = await TestClient.connect(daemon.url);
      const reply = await client.execute({ code: c.code, call: c.name });
      await client.close();
      // What the original's duplex.js hands its callback: the error or null, and the payload (its test drops `time`).
      const { time: _time, ...result } = reply.payload ?? { time: 0 };
      const expected =
        c.error === undefined ? { error: null, result: { console: [], value: null, ...c.result } } : { error: c.error, result: undefined };
      assert.deepEqual({ error: reply.error ?? null, result: reply.payload === undefined ? undefined : result }, expected);
    });
  }
});
