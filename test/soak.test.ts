// The mixed soak (test/helpers/soak.ts; `npm run bench:soak` runs it longer and
// reports its figures): 32 connections cycling ordinary, throwing, timing-out
// and memory-bomb scripts against one daemon. What a neighbour does must change
// no execution's value, console or code, and no answer may reach another caller.
// SOAK_SECONDS sets its length (default 20).
import assert from 'node:assert/strict';
import { assertServing, useDaemon } from './helpers/daemon.js';
import { runSoak, SOAK_KINDS, SOAK_SETTINGS, soakTable } from './helpers/soak.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 20);
const CONNECTIONS = 32;
/** Replies of each kind the soak must have seen checked, for a pass to mean something. */
const AT_LEAST = 5;

describe(`the mixed soak: ${CONNECTIONS} connections × ${SECONDS} s (SOAK_SECONDS)`, function () {
  // The soak's length, then every connection's last execution and the check after.
  this.timeout(SECONDS * 1000 + 60_000);
  const daemon = useDaemon(SOAK_SETTINGS);

  it('every reply is exactly what its own script gives (value and console, or code, message and console), each kind is answered, and the daemon serves on', async function () {
    const result = await runSoak({ url: daemon.url, connections: CONNECTIONS, durationMs: SECONDS * 1000 });
    const table = soakTable(result);
    this.test!.title += ` (${result.answered} answered, ${result.wrong} wrong)`;
    assert.equal(result.wrong, 0, table);
    for (const kind of SOAK_KINDS)
      assert.ok(result.kinds[kind].answered >= AT_LEAST, `${kind} answered fewer than ${AT_LEAST} times:\n${table}`);
    await assertServing(daemon);
  });
});
