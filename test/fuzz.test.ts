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
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode } from '../src/errors.js';
import { TestClient, within } from './helpers/client.js';
import { assertServing, errorLogs, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { BatchGenerator, GIVE_WAY_CODES } from './helpers/fuzz-batches.js';
import { type Frame, FrameGenerator, Rng, subSeed } from './helpers/fuzz-frames.js';
import { SourceGenerator } from './helpers/fuzz-sources.js';
import { scanJson } from './helpers/json-text.js';

const SEED = seedFromEnv();
const BATCHES = 12;
/** MAX_DEPTH at its default; MAX_FRAME small so frames over it are cheap to send. */
const LIMITS = { maxDepth: 128, maxFrameBytes: 262144 };
const DAEMON_ENV = {
  // Busy loops end fast, and no script may ask for more than a second.
  TIMEOUT: '200',
  MAX_TIMEOUT: '1000',
  MAX_FRAME: String(LIMITS.maxFrameBytes),
  MAX_DEPTH: String(LIMITS.maxDepth),
  CONSOLE_LIMIT: '4096',
  RESULT_LIMIT: '65536',
};
const CODES = new Set<number>(Object.values(ErrorCode));
const CLOSE_CODES = new Set([1002, 1007, 1008, 1009]);
/** Frames per connection and batch: well under MAX_IN_FLIGHT (100), so 1004 stays rare. */
const FRAMES = { min: 10, max: 60 };
/** How long after its last expected reply a connection must stay silent (no duplicate, no stray reply). */
const QUIET_MS = 250;
const REPLY_TIMEOUT_MS = 20000;

type Dialect = 'duplex' | 'jsonrpc';
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

/** Parses a reply frame and checks its shape; returns it. */
function wellFormed(dialect: Dialect, frame: string, where: string): Record<string, unknown> {
  const parsed = parse(frame);
  const fail = (why: string) => assert.fail(`${where}: malformed reply (${why}): ${frame.slice(0, 600)}`);
  if (!parsed.ok || !isObject(parsed.value)) return fail('not a JSON object');
  const reply = parsed.value;
  const [outcome, allowed] =
    dialect === 'duplex' ? ['payload', ['type', 'id', 'payload', 'error', 'ext']] : ['result', ['jsonrpc', 'id', 'result', 'error']];
  if (dialect === 'duplex' ? reply.type !== 'rep' : reply.jsonrpc !== '2.0') fail('wrong type or jsonrpc');
  if (!(dialect === 'duplex' ? isRequestId(reply.id) : reply.id === null || isRequestId(reply.id))) fail('no usable id');
  const extra = Object.keys(reply).filter((k) => !allowed.includes(k));
  if (extra.length > 0) fail(`unexpected members ${extra.join(', ')}`);
  if (outcome in reply === 'error' in reply) fail(`not exactly one of ${outcome} and error`);
  if ('error' in reply) {
    const error = reply.error;
    if (!isObject(error) || !CODES.has(error.code as number)) fail('an error without a known code');
    if (typeof (error as Record<string, unknown>).message !== 'string') fail('an error without a message');
    const data = (error as Record<string, unknown>).data;
    if (data !== undefined && !isObject(data)) fail('error data that is not an object');
  } else {
    const result = reply[outcome];
    if (!isObject(result) || !('value' in result)) fail('a result without a value');
    const { console, time } = result as Record<string, unknown>;
    if (!Array.isArray(console) || !console.every((line) => typeof line === 'string')) fail('console is not a list of strings');
    if (typeof time !== 'number' || !(time >= 0)) fail('time is not a number');
  }
  return reply;
}

// --- small things ---------------------------------------------------------------

function parse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function seedFromEnv(): number {
  const given = process.env.FUZZ_SEED;
  if (given === undefined || given === '') return randomInt(2 ** 31);
  const seed = Number(given);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`FUZZ_SEED must be a non-negative integer, not ${given}`);
  return seed;
}

// --- JSON-RPC batches of mixed sizes ---------------------------------------------

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
// --- module and TypeScript sources ----------------------------------------------

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
 *      source with a known value gives that value;
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
        if (source.value !== undefined) {
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
