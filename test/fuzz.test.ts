// Seeded fuzz of the wire protocol and of request payloads, against one real
// daemon. Each batch opens connections in both dialects (and some that fail the
// handshake), sends random and adversarial frames (test/helpers/fuzz-frames.ts),
// and checks every reply against what the protocol promises for that frame:
//   1. a frame with a usable id is answered exactly once, with a well-formed
//      reply carrying that id: a result, or an error coded as in src/errors.ts;
//   2. a connection the daemon closes is closed cleanly, with 1002, 1007, 1008
//      or 1009 and a reason;
//   3. after every batch the daemon runs, /healthz answers 200 and a new
//      connection runs 1+1;
//   4. the daemon logged nothing at error or fatal.
// FUZZ_SEED=n reproduces a run; each batch draws from its own seed derived from
// it, so `--grep "batch 3"` with the same FUZZ_SEED reproduces batch 3 alone.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode } from '../src/errors.js';
import { TestClient, within } from './helpers/client.js';
import { assertServing, errorLogs, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { type Frame, FrameGenerator, Rng, subSeed } from './helpers/fuzz-frames.js';
import {
  DAEMON_ENV,
  type Dialect,
  isObject,
  isRequestId,
  LIMITS,
  parse,
  QUIET_MS,
  REPLY_TIMEOUT_MS,
  SEED,
  wellFormed,
} from './helpers/fuzz-oracle.js';
import { scanJson } from './helpers/json-text.js';

const BATCHES = 12;
const CLOSE_CODES = new Set([1002, 1007, 1008, 1009]);
/** Frames per connection and batch: well under MAX_IN_FLIGHT (100), so 1004 stays rare. */
const FRAMES = { min: 10, max: 60 };

type Kind = Dialect | 'abandoned' | 'not-a-handshake' | 'closed-at-once';

describe(`protocol fuzz (FUZZ_SEED=${SEED})`, function () {
  this.timeout(60000);
  let errorsBefore = 0;

  const daemon = useDaemon(DAEMON_ENV);
  afterEach(function () {
    // The daemon's whole output, to see what led up to a failure.
    if (this.currentTest?.state === 'failed' && daemon !== undefined) {
      const file = join(tmpdir(), `javascriptd-fuzz-${SEED}.log`);
      writeFileSync(file, daemon.output.join('\n'));
      this.currentTest.title += ` (daemon output: ${file})`;
    }
  });

  for (let batch = 1; batch <= BATCHES; batch++) {
    it(`batch ${batch}: every answerable frame answered once and well-formed, closes coded, the daemon still serving`, async () => {
      await assertServing(daemon);
      const rng = new Rng(subSeed(SEED, batch));
      const kinds: Kind[] = Array.from({ length: rng.int(3, 6) }, () =>
        rng.pick<Kind>(['duplex', 'duplex', 'duplex', 'jsonrpc', 'jsonrpc', 'jsonrpc', 'abandoned', 'not-a-handshake', 'closed-at-once']),
      );
      const where = (i: number) => `FUZZ_SEED=${SEED} batch ${batch} connection ${i} (${kinds[i]})`;
      // Each connection draws from its own generator, so their interleaving does not change what they send.
      await Promise.all(kinds.map((kind, i) => converse(daemon, kind, new Rng(subSeed(subSeed(SEED, batch), i)), where(i))));
      await assertServing(daemon);
      const errors = errorLogs(daemon).slice(errorsBefore);
      errorsBefore += errors.length;
      assert.deepEqual(errors, [], `FUZZ_SEED=${SEED} batch ${batch}: the daemon logged at error level`);
    });
  }
});

/** One connection's life: its frames, the replies they get, and how it ends. */
async function converse(daemon: RunningDaemon, kind: Kind, rng: Rng, where: string): Promise<void> {
  const generator = new FrameGenerator(rng, LIMITS);
  if (kind === 'not-a-handshake' || kind === 'closed-at-once') {
    const client = await TestClient.connect(daemon.url, { handshake: false });
    const { frame, code } = kind === 'not-a-handshake' ? { frame: generator.notAHandshake(), code: 1002 } : generator.closer();
    send(client, frame);
    await expectClose(client, code, `${where}, after ${frame.label}`);
    return;
  }
  const dialect: Dialect = kind === 'jsonrpc' || (kind === 'abandoned' && rng.chance(0.5)) ? 'jsonrpc' : 'duplex';
  const client = await TestClient.connect(daemon.url, { handshake: dialect === 'duplex' ? undefined : false });
  const count = rng.int(FRAMES.min, FRAMES.max);
  const frames = [
    ...(dialect === 'jsonrpc' ? [generator.jsonRpcFirst()] : []),
    ...Array.from({ length: count }, () => generator.frame(dialect)),
  ];
  const expectations: Expectation[] = [];
  for (const frame of frames) {
    expectations.push(...expectationsOf(dialect, frame));
    send(client, frame);
    // Let other connections' frames in between, now and then.
    if (rng.chance(0.2)) await delay(rng.int(0, 5));
  }
  if (kind === 'abandoned') {
    // Gone with requests in flight: their replies have nowhere to go.
    await delay(rng.int(0, 30));
    client.ws.terminate();
    return;
  }
  const replies = await client.collect((received) => answered(expectations, messages(received), dialect), QUIET_MS, REPLY_TIMEOUT_MS);
  const closedEarly = await Promise.race([client.closed, new Promise<undefined>((resolve) => setImmediate(resolve, undefined))]);
  assert.equal(
    closedEarly,
    undefined,
    `${where}: the daemon closed the connection (${JSON.stringify(closedEarly)}) though no frame asked for it`,
  );
  checkReplies(dialect, expectations, messages(replies), where);
  if (rng.chance(0.5)) {
    const { frame, code } = generator.closer();
    send(client, frame);
    await expectClose(client, code, `${where}, after ${frame.label}`);
  } else {
    await client.close();
  }
}

function send(client: TestClient, frame: Frame): void {
  client.sendRaw(frame.data, frame.binary);
}

async function expectClose(client: TestClient, code: number, where: string): Promise<void> {
  const closed = await within(client.closed, 10000, `${where}: waiting for the daemon to close the connection`);
  const stray = await client.collect(() => true, 0, 0);
  assert.deepEqual(stray, [], `${where}: frames sent on a connection being closed`);
  assert.ok(CLOSE_CODES.has(closed.code), `${where}: closed with ${closed.code} "${closed.reason}", not one of ${[...CLOSE_CODES]}`);
  assert.equal(closed.code, code, `${where}: closed with ${closed.code} "${closed.reason}"`);
  // ws closes 1007 (not UTF-8) and 1009 (too big) itself, the code saying it all; the daemon's own closes say why.
  if (code === 1002 || code === 1008) assert.ok(closed.reason.length > 0, `${where}: closed with ${closed.code} and no reason`);
}

// --- the oracle ---------------------------------------------------------------

/** What the protocol promises for one frame, worked out from the frame as the daemon reads it. */
interface Expectation {
  frame: Frame;
  text: string;
  /** JSON of the id its reply carries; undefined when no reply carries an id of its own. */
  key?: string;
  /** The reply to `key` may be missing (a frame nested too deep whose id comes after the nesting). */
  keyOptional: boolean;
  /** JSON-RPC: whether the frame is answered with id null. */
  nullReply: 'no' | 'yes' | 'maybe';
  /** Nested deeper than MAX_DEPTH: the reply is -32600 naming MAX_DEPTH. */
  tooDeep: boolean;
  /** Duplex: JSON of the ext the reply must carry back. */
  ext?: string;
}

/** What one frame must get: one expectation per message (a JSON-RPC batch holds several, each answered in the batch's reply array). */
function expectationsOf(dialect: Dialect, frame: Frame): Expectation[] {
  // What the daemon sees: ws hands it the frame's bytes, which it reads as UTF-8.
  const text = Buffer.from(frame.data).toString('utf8');
  const parsed = parse(text);
  const tooDeep = parsed.ok && scanJson(text, LIMITS.maxDepth).depth > LIMITS.maxDepth;
  if (dialect === 'jsonrpc' && parsed.ok && Array.isArray(parsed.value) && !tooDeep) {
    if (parsed.value.length === 0) return [{ frame, text, keyOptional: false, nullReply: 'yes', tooDeep: false }];
    // A member's reply has no known answer of the frame's to check.
    return parsed.value.map((member) => expectationOf(dialect, { ...frame, value: undefined }, JSON.stringify(member)));
  }
  return [expectationOf(dialect, frame, text)];
}

function expectationOf(dialect: Dialect, frame: Frame, text: string): Expectation {
  const none: Expectation = { frame, text, keyOptional: false, nullReply: 'no', tooDeep: false };
  const parsed = parse(text);
  const shape = scanJson(text, LIMITS.maxDepth);
  const tooDeep = parsed.ok && shape.depth > LIMITS.maxDepth;
  const idAt = shape.topLevelKeys.get('id');
  const idReadable = idAt !== undefined && (shape.overLimitAt === undefined || idAt < shape.overLimitAt);
  if (dialect === 'duplex') {
    // Empty frames are ignored; what is not an object with a usable id (or no id) is dropped.
    if (!parsed.ok || !isObject(parsed.value)) return none;
    const msg = parsed.value;
    if (msg.id === undefined || !isRequestId(msg.id)) return none;
    if (tooDeep) return { ...none, key: JSON.stringify(msg.id), keyOptional: !idReadable || msg.type === 'rep', tooDeep };
    if (msg.type === 'rep') return none;
    return { ...none, key: JSON.stringify(msg.id), ext: 'ext' in msg ? JSON.stringify(msg.ext) : undefined };
  }
  if (!parsed.ok || !isObject(parsed.value)) return { ...none, nullReply: 'yes' };
  const msg = parsed.value;
  if (!('id' in msg)) {
    if (tooDeep) return { ...none, nullReply: 'maybe', tooDeep };
    // A well-formed notification gets no reply; anything else gets one with id null.
    return msg.jsonrpc === '2.0' && typeof msg.method === 'string' ? none : { ...none, nullReply: 'yes' };
  }
  if (msg.id === null || !isRequestId(msg.id)) return { ...none, nullReply: 'yes', tooDeep };
  if (tooDeep && !idReadable) return { ...none, key: JSON.stringify(msg.id), keyOptional: true, nullReply: 'maybe', tooDeep };
  return { ...none, key: JSON.stringify(msg.id), tooDeep };
}

/** The reply messages of some frames: a batch's reply array counts as the replies it holds. */
function messages(frames: string[]): string[] {
  return frames.flatMap((frame) => {
    const parsed = parse(frame);
    return parsed.ok && Array.isArray(parsed.value) ? parsed.value.map((reply) => JSON.stringify(reply)) : [frame];
  });
}

/** Whether every reply that must come has come. */
function answered(expectations: Expectation[], frames: string[], dialect: Dialect): boolean {
  const counts = countByKey(frames, dialect);
  const nulls = expectations.filter((e) => e.nullReply === 'yes').length;
  return (
    (counts.get('null') ?? 0) >= nulls && expectations.every((e) => e.key === undefined || e.keyOptional || (counts.get(e.key) ?? 0) >= 1)
  );
}

function countByKey(frames: string[], dialect: Dialect): Map<string, number> {
  const counts = new Map<string, number>();
  for (const frame of frames) {
    const parsed = parse(frame);
    if (!parsed.ok || !isObject(parsed.value)) continue;
    const key = JSON.stringify(parsed.value.id ?? (dialect === 'jsonrpc' ? null : undefined));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function checkReplies(dialect: Dialect, expectations: Expectation[], frames: string[], where: string): void {
  const byKey = new Map<string, Record<string, unknown>[]>();
  for (const frame of frames) {
    const reply = wellFormed(dialect, frame, where);
    const key = JSON.stringify(reply.id);
    byKey.set(key, [...(byKey.get(key) ?? []), reply]);
  }
  const describe = (e: Expectation) => `${e.frame.label}\n  frame: ${e.text.slice(0, 300)}${e.text.length > 300 ? '…' : ''}`;
  for (const e of expectations) {
    if (e.key === undefined) continue;
    const replies = byKey.get(e.key) ?? [];
    byKey.delete(e.key);
    assert.ok(
      replies.length <= 1,
      `${where}: ${replies.length} replies to id ${e.key}, for ${describe(e)}\n  replies: ${JSON.stringify(replies).slice(0, 600)}`,
    );
    if (replies.length === 0) {
      assert.ok(e.keyOptional, `${where}: no reply to id ${e.key} within ${REPLY_TIMEOUT_MS} ms, for ${describe(e)}`);
      continue;
    }
    const [reply] = replies;
    const error = reply.error as { code: number; message: string; data?: Record<string, unknown> } | undefined;
    const success = (dialect === 'duplex' ? reply.payload : reply.result) as { value: unknown } | undefined;
    const shown = `${describe(e)}\n  reply: ${JSON.stringify(reply).slice(0, 600)}`;
    if (e.tooDeep) {
      assert.equal(error?.code, ErrorCode.InvalidRequest, `${where}: a frame nested deeper than MAX_DEPTH must get -32600: ${shown}`);
      assert.equal(error.message, 'Invalid request', `${where}: ${shown}`);
      assert.match(String(error?.data?.detail), /MAX_DEPTH/, `${where}: the -32600 must name MAX_DEPTH: ${shown}`);
    }
    if (dialect === 'duplex' && !e.tooDeep) {
      assert.equal(JSON.stringify(reply.ext), e.ext, `${where}: the reply must carry the request's ext back: ${shown}`);
    }
    // Busy (MAX_IN_FLIGHT, the queue) may answer any request first: rare with these counts, and never wrong.
    if (e.frame.value !== undefined && error?.code !== ErrorCode.Busy) {
      assert.ok(success !== undefined, `${where}: a request with a known answer got an error: ${shown}`);
      assert.deepEqual(success.value, e.frame.value, `${where}: wrong value: ${shown}`);
    }
    if (e.frame.code !== undefined && error?.code !== ErrorCode.Busy) {
      assert.equal(error?.code, e.frame.code, `${where}: a request with a known error got another answer: ${shown}`);
    }
  }
  // JSON-RPC answers what it cannot attribute with id null: count those.
  const nulls = byKey.get('null') ?? [];
  byKey.delete('null');
  const fewest = expectations.filter((e) => e.nullReply === 'yes').length;
  const most = fewest + expectations.filter((e) => e.nullReply === 'maybe').length;
  assert.ok(
    nulls.length >= fewest && nulls.length <= most,
    `${where}: ${nulls.length} replies with id null, expected ${fewest}..${most}, for:\n${expectations
      .filter((e) => e.nullReply !== 'no')
      .map(describe)
      .join('\n')}\n  replies: ${JSON.stringify(nulls).slice(0, 600)}`,
  );
  const stray = [...byKey.entries()];
  assert.deepEqual(stray, [], `${where}: replies to ids that were never sent, or to frames that must not be answered`);
}
