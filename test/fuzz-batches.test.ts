// Seeded fuzz of JSON-RPC batches of mixed sizes against one real daemon (the
// seed as in fuzz.test.ts; the batches from test/helpers/fuzz-batches.ts).
import assert from 'node:assert/strict';
import { TestClient } from './helpers/client.js';
import { assertServing, errorLogs, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { BatchGenerator, GIVE_WAY_CODES } from './helpers/fuzz-batches.js';
import { Rng, subSeed } from './helpers/fuzz-frames.js';
import { DAEMON_ENV, LIMITS, parse, QUIET_MS, REPLY_TIMEOUT_MS, SEED, wellFormed } from './helpers/fuzz-oracle.js';

/**
 * Batches bounded like their requests: MAX_FRAME bounds each batch's reply
 * frame (members that do not fit get 1005), a small QUEUE_BYTES refuses some
 * large scripts by their own size (1004), and MAX_IN_FLIGHT some members of
 * batches sent together (1004). MAX_UNSENT stays at its default, well above what
 * a reading client's batches in flight hold.
 */
const BATCH_ENV = { ...DAEMON_ENV, QUEUE_BYTES: '131072' };
const BATCH_ROUNDS = 6;

describe(`JSON-RPC batch fuzz (FUZZ_SEED=${SEED})`, function () {
  this.timeout(60000);
  let errorsBefore = 0;
  const daemon = useDaemon(BATCH_ENV);

  for (let round = 1; round <= BATCH_ROUNDS; round++) {
    it(`round ${round}: each member with an id answered once by its id, in one reply frame per batch within MAX_FRAME; the daemon still serving`, async () => {
      const seed = subSeed(SEED, 1000 + round);
      const rng = new Rng(seed);
      const connections = rng.int(2, 4);
      await Promise.all(
        Array.from({ length: connections }, (_, i) =>
          batchConversation(daemon, new Rng(subSeed(seed, i)), `FUZZ_SEED=${SEED} batch round ${round} connection ${i}`),
        ),
      );
      await assertServing(daemon);
      const errors = errorLogs(daemon).slice(errorsBefore);
      errorsBefore += errors.length;
      assert.deepEqual(errors, [], `FUZZ_SEED=${SEED} batch round ${round}: the daemon logged at error level`);
    });
  }
});

/** One JSON-RPC connection sending 2 to 6 batches at once, then checking every reply. */
async function batchConversation(daemon: RunningDaemon, rng: Rng, where: string): Promise<void> {
  const generator = new BatchGenerator(rng, LIMITS.maxFrameBytes);
  const batches = Array.from({ length: rng.int(2, 6) }, (_, i) => generator.batch(i === 0));
  const client = await TestClient.connect(daemon.url, { handshake: false });
  for (const batch of batches) client.send(batch.text);
  const expectedFrames = batches.filter((batch) => batch.members.some((m) => m.key !== undefined || m.nullReply)).length;
  const frames = await client.collect((received) => received.length >= expectedFrames, QUIET_MS, REPLY_TIMEOUT_MS);
  const closed = await Promise.race([client.closed, new Promise<undefined>((resolve) => setImmediate(resolve, undefined))]);
  assert.equal(closed, undefined, `${where}: the daemon closed the connection (${JSON.stringify(closed)})`);
  assert.equal(frames.length, expectedFrames, `${where}: ${frames.length} reply frames for ${expectedFrames} batches that get one`);
  // Which batch each id was sent in: a frame answers one batch.
  const batchOf = new Map<string, number>();
  batches.forEach((batch, b) => {
    for (const m of batch.members) if (m.key !== undefined) batchOf.set(m.key, b);
  });
  const replies = new Map<string, Record<string, unknown>>();
  let nulls = 0;
  for (const frame of frames) {
    const bytes = Buffer.byteLength(frame);
    assert.ok(bytes <= LIMITS.maxFrameBytes, `${where}: a batch reply frame of ${bytes} bytes, over MAX_FRAME`);
    const parsed = parse(frame);
    assert.ok(
      parsed.ok && Array.isArray(parsed.value),
      `${where}: a batch answered with something else than an array: ${frame.slice(0, 300)}`,
    );
    const answered = new Set<number>();
    for (const member of parsed.value) {
      const reply = wellFormed('jsonrpc', JSON.stringify(member), where);
      if (reply.id === null) {
        nulls++;
        continue;
      }
      const key = JSON.stringify(reply.id);
      assert.ok(!replies.has(key), `${where}: two replies to id ${key}`);
      assert.ok(batchOf.has(key), `${where}: a reply to id ${key}, which no batch sent`);
      replies.set(key, reply);
      answered.add(batchOf.get(key) as number);
    }
    assert.ok(answered.size <= 1, `${where}: one frame answers members of batches ${[...answered].join(', ')}`);
  }
  const members = batches.flatMap((batch) => batch.members);
  assert.equal(nulls, members.filter((m) => m.nullReply).length, `${where}: replies with id null`);
  for (const m of members) {
    if (m.key === undefined) continue;
    const reply = replies.get(m.key);
    assert.ok(reply !== undefined, `${where}: no reply to id ${m.key} (${m.label})`);
    const error = reply.error as { code: number } | undefined;
    const shown = `${m.label} id ${m.key}: ${JSON.stringify(reply).slice(0, 300)}`;
    if (error !== undefined && m.dispatched && GIVE_WAY_CODES.has(error.code)) continue;
    if (m.code !== undefined) assert.equal(error?.code, m.code, `${where}: ${shown}`);
    if (m.value !== undefined) assert.deepEqual((reply.result as { value?: unknown } | undefined)?.value, m.value, `${where}: ${shown}`);
  }
  await client.close();
}
