// Seeded fuzz of ES module and TypeScript sources against one real daemon (the
// seed as in fuzz.test.ts; the sources from test/helpers/fuzz-sources.ts).
import assert from 'node:assert/strict';
import { ErrorCode } from '../src/errors.js';
import { TestClient, within } from './helpers/client.js';
import { assertServing, errorLogs, useDaemon } from './helpers/daemon.js';
import { Rng, subSeed } from './helpers/fuzz-frames.js';
import { CODES, QUIET_MS, REPLY_TIMEOUT_MS, SEED } from './helpers/fuzz-oracle.js';
import { SourceGenerator } from './helpers/fuzz-sources.js';

/** MAX_SOURCE_DEPTH at its default. */
const SOURCE_DEPTH = 1000;
const SOURCE_BATCHES = 6;

/**
 * Random and mutated ES module and TypeScript sources (test/helpers/fuzz-sources.ts)
 * against a daemon of their own, whose esbuild service has a small memory bound:
 *   1. every request is answered once: a result, or an error coded as in
 *      src/errors.ts; a -32603 only for a transform esbuild's service failed
 *      under (it was restarted), never the daemon's compiler lost for good;
 *   2. a source nested past MAX_SOURCE_DEPTH is the 1000 naming it, and a valid
 *      source with a known value gives that value, unless the service failed
 *      under it twice (other sources brought it down, also while it ran again);
 *   3. after every batch new module and TypeScript scripts run and give their
 *      values, and the daemon logged nothing at error or fatal.
 */
describe(`module and TypeScript source fuzz (FUZZ_SEED=${SEED})`, function () {
  this.timeout(120000);
  let errorsBefore = 0;
  const daemon = useDaemon({ TIMEOUT: '200', MAX_TIMEOUT: '1000', TRANSFORM_MEMORY: '128' });

  for (let batch = 1; batch <= SOURCE_BATCHES; batch++) {
    it(`batch ${batch}: every source answered once, with a result or a coded error; modules and TypeScript still run after`, async () => {
      const where = `FUZZ_SEED=${SEED} source batch ${batch}`;
      const rng = new Rng(subSeed(subSeed(SEED, 1000), batch));
      const generator = new SourceGenerator(rng, SOURCE_DEPTH);
      const sources = Array.from({ length: rng.int(20, 40) }, () => generator.next());
      const client = await TestClient.connect(daemon.url);
      const replies = await within(
        Promise.all(sources.map((source) => client.execute(source.script))),
        REPLY_TIMEOUT_MS * 3,
        `${where}: replies`,
      );
      sources.forEach((source, i) => {
        const reply = replies[i];
        const shown = `${where}: ${source.label} (${source.script.module ? 'module ' : ''}${source.script.typescript ? 'TypeScript' : ''}): ${source.script.code.slice(0, 200)}\n  reply: ${JSON.stringify(reply).slice(0, 600)}`;
        const { error } = reply;
        if (error !== undefined) {
          assert.ok(CODES.has(error.code), `an unknown code: ${shown}`);
          if (error.code === ErrorCode.Internal)
            assert.match(String(error.data?.reason), /^the TypeScript and module compiler \(esbuild\) failed and was restarted: /, shown);
        }
        if (source.tooDeep) {
          assert.equal(error?.code, ErrorCode.Exception, `nested past MAX_SOURCE_DEPTH must be a 1000: ${shown}`);
          assert.match(
            error.message,
            /^RangeError: nested deeper than 1000 levels \(MAX_SOURCE_DEPTH\) \[(module|script)\.(js|ts):\d+:\d+\]$/,
            shown,
          );
        }
        // A valid source in esbuild's hands when another source of the batch brought the service down is run again
        // alone; only if yet another brings the new service down meanwhile does it get the -32603 checked above.
        if (source.value !== undefined && error?.code !== ErrorCode.Internal) {
          assert.equal(error, undefined, `a source with a known value failed: ${shown}`);
          assert.deepEqual(reply.payload?.value, source.value, shown);
        }
      });
      assert.deepEqual(await client.collect(() => true, QUIET_MS, QUIET_MS), [], `${where}: replies nobody asked for`);
      const n = batch * 1000 + rng.int(0, 999);
      for (const script of [
        { code: `export default ${n};`, module: true },
        { code: `const n: number = ${n};\nexport default n;`, module: true, typescript: true },
        { code: `const n: number = ${n};\nn`, typescript: true },
      ]) {
        const reply = await client.execute(script);
        assert.equal(reply.payload?.value, n, `${where}: after the batch, ${script.code}: ${JSON.stringify(reply.error)}`);
      }
      await client.close();
      await assertServing(daemon);
      const errors = errorLogs(daemon).slice(errorsBefore);
      errorsBefore += errors.length;
      assert.deepEqual(errors, [], `${where}: the daemon logged at error level`);
    });
  }
});
