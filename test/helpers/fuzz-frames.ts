// Random and adversarial frames for the protocol fuzz test, from a seeded PRNG so
// that a seed reproduces a run. Frames are built as JSON text, not with
// JSON.stringify, so that they can hold what JSON.stringify never writes: deep
// nesting, duplicate and escaped keys, numbers that parse to Infinity or -0,
// lone surrogate escapes, truncations.
import { ErrorCode } from '../../src/errors.js';
import { nestedArrays, nestedMixed, nestedObjects } from './json-text.js';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/** A seed mixed with a number (a batch, a connection) into an independent one. */
export function subSeed(seed: number, n: number): number {
  return new Rng((seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0).int(0, 2 ** 32 - 1);
}

export interface Frame {
  data: string | Buffer;
  binary: boolean;
  /** For a runtime.execute request whose answer is known: the value a success must carry. */
  value?: unknown;
  /** For a runtime.execute request whose error is known: the code its reply must carry. */
  code?: number;
  /** What the frame is, for failure messages. */
  label: string;
}

export interface FrameLimits {
  maxDepth: number;
  maxFrameBytes: number;
}

/** Strings that have broken JSON handling, UTF-16/UTF-8 conversion or property lookup somewhere. */
const EDGE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ufeff',
  '\ufeffSIMPLEX/1.0;json',
  '😀',
  '👩‍👩‍👧‍👦',
  '\u202eevil',
  'e\u0301',
  '\uffff',
  '\ufffe',
  '\ud800',
  '\udc00',
  'a\ud800b',
  '\udbff\udfff',
  '\ud83d',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'runtime.execute',
  'SIMPLEX/1.0;json',
  '+OK',
  '</script>',
  '${1}',
  '\\',
  '"',
  '\n\r\t\b\f',
  'null',
  'undefined',
  'NaN',
  '-0',
];

/** Number tokens as written: some parse to -0, Infinity, or lose precision. */
const EDGE_NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '0.5',
  '1.5e3',
  '1E2',
  '1e308',
  '-1e308',
  '1e400',
  '-1e400',
  '5e-324',
  '1e-400',
  '12345678901234567890',
  '9007199254740993',
  '0.1',
];

const KEYS = [
  'a',
  'b',
  'code',
  'id',
  'type',
  'value',
  'x',
  '',
  '__proto__',
  'constructor',
  'toString',
  '😀',
  '\u0000',
  '\ud800',
  'globalThis',
  'console',
  'setTimeout',
  'cb',
];

const HANDSHAKE = 'SIMPLEX/1.0;json';

/** Frames that are neither the Duplex handshake nor a JSON-RPC request: the daemon closes with 1002. */
const NOT_A_HANDSHAKE = [
  'hello',
  '',
  ' ',
  'SIMPLEX/1.0;msgpack',
  'SIMPLEX/2.0;json',
  'simplex/1.0;json',
  'SIMPLEX/1.0;json\n',
  ' SIMPLEX/1.0;json',
  '\ufeffSIMPLEX/1.0;json',
  'SIMPLEX/1.0;json\u0000',
  '+OK',
  '{"type":"req","method":"runtime.execute","id":1,"payload":{"code":"1"}}',
  '{"jsonrpc":"1.0","method":"runtime.execute","id":1}',
  '{"jsonrpc":2,"method":"runtime.execute","id":1}',
  '[]',
  '[1]',
  'null',
  '{}',
  '"SIMPLEX/1.0;json"',
  '{"jsonrpc":"2.0"',
  'SIMPLEX',
];

/** Not JSON at all, or almost. */
const BROKEN_JSON = [
  'not json',
  '{',
  '}',
  '[',
  ']',
  '{"a":',
  "{'a':1}",
  '{a:1}',
  'NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  '// c\n{}',
  '{}//',
  '/* */{}',
  '{"a":1,}',
  '[1,]',
  '[,1]',
  '"\\x41"',
  '"\\u12"',
  '"\\ud800',
  '"unterminated',
  '"a\tb"',
  '"a\nb"',
  '01',
  '-',
  '1.',
  '.5',
  '+1',
  '0x10',
  'tru',
  'nul',
  '{"a" 1}',
  '{"a":1}{"b":2}',
  '[]]',
  '{"a":1}}',
  '\u0000',
  '{"\u0000":1',
  'SIMPLEX/1.0;json',
];

/** Byte sequences that are not UTF-8: a text frame holding one is closed with 1007. */
const NOT_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

/** Generates the frames of one connection; ids it hands out are unique on that connection. */
export class FrameGenerator {
  private readonly usedIds = new Set<string>();
  private nextId = 1;

  constructor(
    private readonly rng: Rng,
    private readonly limits: FrameLimits,
  ) {}

  /** A random frame for a connection that speaks `dialect`, under MAX_FRAME. */
  frame(dialect: 'duplex' | 'jsonrpc'): Frame {
    for (;;) {
      const frame = this.anyFrame(dialect);
      if (Buffer.byteLength(frame.data) < this.limits.maxFrameBytes) return frame;
    }
  }

  /** A first frame that makes the connection speak JSON-RPC: a request or a batch. */
  jsonRpcFirst(): Frame {
    if (this.rng.chance(0.15))
      return { data: `[${this.jsonRpcRequest(true).text}]`, binary: false, label: 'JSON-RPC batch as the first frame' };
    const request = this.jsonRpcRequest(true);
    return { data: request.text, binary: false, value: request.value, code: request.code, label: `JSON-RPC first frame: ${request.label}` };
  }

  /** A first frame that is neither the handshake nor JSON-RPC. */
  notAHandshake(): Frame {
    const text = this.rng.chance(0.7) ? this.rng.pick(NOT_A_HANDSHAKE) : this.randomText(this.rng.int(1, 40));
    return { data: text, binary: false, label: `not a handshake: ${JSON.stringify(text)}` };
  }

  /** A frame that makes the daemon close the connection, and the close code it must use. */
  closer(): { frame: Frame; code: 1007 | 1009 } {
    if (this.rng.chance(0.5)) {
      const size = this.limits.maxFrameBytes + this.rng.int(1, 4096);
      const text = this.rng.chance(0.5)
        ? `{"type":"req","method":"runtime.execute","id":${this.id().text},"payload":{"code":${JSON.stringify('1'.padEnd(size, ' '))}}}`
        : 'x'.repeat(size);
      return {
        frame: { data: text, binary: this.rng.chance(0.2), label: `a frame of ${Buffer.byteLength(text)} bytes, over MAX_FRAME` },
        code: 1009,
      };
    }
    const bad = Buffer.from(this.rng.pick(NOT_UTF8));
    const data = this.rng.chance(0.5)
      ? Buffer.concat([
          Buffer.from(`{"type":"req","method":"runtime.execute","id":${this.id().text},"payload":{"code":"'`),
          bad,
          Buffer.from(`'"}}`),
        ])
      : Buffer.concat([Buffer.from(this.randomText(this.rng.int(0, 10))), bad]);
    return {
      frame: { data, binary: false, label: `a text frame with bytes that are not UTF-8: ${data.toString('hex').slice(0, 200)}` },
      code: 1007,
    };
  }

  private anyFrame(dialect: 'duplex' | 'jsonrpc'): Frame {
    const roll = this.rng.next();
    if (roll < 0.5) {
      const request = dialect === 'duplex' ? this.duplexRequest() : this.jsonRpcRequest();
      const binary = this.rng.chance(0.05);
      return {
        data: binary ? Buffer.from(request.text) : request.text,
        binary,
        value: request.value,
        code: request.code,
        label: `${binary ? 'binary ' : ''}${request.label}`,
      };
    }
    if (roll < 0.58) return this.deepFrame(dialect);
    if (roll < 0.63) return this.large(dialect);
    if (roll < 0.73) {
      const text = this.topLevelValue(dialect);
      return { data: text, binary: false, label: `top-level ${text.slice(0, 80)}` };
    }
    if (roll < 0.86) return this.broken(dialect);
    if (roll < 0.9) return { data: this.rng.pick(['', ' ', '\n', '\t \r\n']), binary: false, label: 'empty or blank frame' };
    if (roll < 0.94) {
      const bytes = Buffer.from(Array.from({ length: this.rng.int(0, 64) }, () => this.rng.int(0, 255)));
      return { data: bytes, binary: true, label: `binary frame of random bytes ${bytes.toString('hex')}` };
    }
    const request = dialect === 'duplex' ? this.duplexRequest() : this.jsonRpcRequest();
    return {
      data: this.whitespace() + request.text + this.whitespace(),
      binary: false,
      value: request.value,
      code: request.code,
      label: `padded ${request.label}`,
    };
  }

  // --- requests -------------------------------------------------------------

  private duplexRequest(): Built {
    const script = this.rng.chance(0.85) ? this.script() : { text: this.value(0), label: 'payload of a random shape' };
    const valid = { type: true, method: true, id: true };
    const entries: [string, string][] = [];
    if (this.rng.chance(0.9)) {
      valid.type = this.rng.chance(0.88);
      entries.push([
        'type',
        valid.type ? '"req"' : this.rng.pick(['"rep"', '"REQ"', '""', 'null', '1', '["req"]', '{"t":"req"}', '"nope"', this.value(2)]),
      ]);
    } else valid.type = false;
    if (this.rng.chance(0.93)) {
      valid.method = this.rng.chance(0.88);
      entries.push(['method', valid.method ? '"runtime.execute"' : this.method()]);
    } else valid.method = false;
    if (this.rng.chance(0.9)) {
      const id = this.id();
      valid.id = id.usable;
      entries.push(['id', id.text]);
    } else valid.id = false;
    if (this.rng.chance(0.95)) entries.push(['payload', script.text]);
    if (this.rng.chance(0.1)) entries.push(['more', this.value(2)]);
    if (this.rng.chance(0.2)) entries.push(['ext', this.value(0)]);
    this.decorate(entries);
    const known = valid.type && valid.method && valid.id && script.value !== undefined && hasOnce(entries, 'payload');
    return {
      text: this.object(entries),
      value: known ? script.value : undefined,
      code: known ? script.code : undefined,
      label: `Duplex request, ${script.label}`,
    };
  }

  private jsonRpcRequest(first = false): Built {
    const script = this.rng.chance(0.85) ? this.script() : { text: this.value(0), label: 'params of a random shape' };
    const entries: [string, string][] = [];
    let valid = true;
    if (first || this.rng.chance(0.92)) {
      const version = first || this.rng.chance(0.9);
      valid &&= version;
      entries.push(['jsonrpc', version ? '"2.0"' : this.rng.pick(['"1.0"', '2', '2.0', '"2"', 'null', '" 2.0"'])]);
    } else valid = false;
    if (this.rng.chance(0.93)) {
      const method = this.rng.chance(0.88);
      valid &&= method;
      entries.push(['method', method ? '"runtime.execute"' : this.method()]);
    } else valid = false;
    if (this.rng.chance(0.95)) entries.push(['params', this.rng.chance(0.2) ? `[${script.text}]` : script.text]);
    if (this.rng.chance(0.88)) {
      const id = this.id(true);
      valid &&= id.usable;
      entries.push(['id', id.text]);
    } else valid = false;
    this.decorate(entries, first);
    const known = valid && script.value !== undefined && hasOnce(entries, 'params');
    return {
      text: this.object(entries),
      value: known ? script.value : undefined,
      code: known ? script.code : undefined,
      label: `JSON-RPC request, ${script.label}`,
    };
  }

  /** Extra keys, a duplicated key (JSON.parse keeps the last), shuffled order. Never a second id: replies are told apart by id. */
  private decorate(entries: [string, string][], keepJsonRpc = false): void {
    if (this.rng.chance(0.1)) entries.push([this.rng.pick(KEYS.filter((k) => k !== 'id')), this.value(1)]);
    if (this.rng.chance(0.05)) entries.push(['__proto__', '{"type":"req","id":1}']);
    const others = entries.filter(([k]) => k !== 'id' && !(keepJsonRpc && k === 'jsonrpc'));
    if (this.rng.chance(0.04) && others.length > 0) entries.push([this.rng.pick(others)[0], this.value(2)]);
    this.rng.shuffle(entries);
  }

  private method(): string {
    return this.rng.pick([
      '"runtime.nope"',
      '""',
      '"runtime.execute "',
      '"RUNTIME.EXECUTE"',
      '"__proto__"',
      '"constructor"',
      '"toString"',
      '"hasOwnProperty"',
      'null',
      '1',
      '[]',
      '{}',
      '["runtime.execute"]',
      this.string(),
    ]);
  }

  /** An id token, unique on this connection among the usable ones. */
  private id(jsonRpc = false): { text: string; usable: boolean } {
    for (let attempt = 0; attempt < 5; attempt++) {
      const text = this.rng.pick([
        () => String(this.nextId++),
        () => String(-this.nextId++),
        () => `${this.nextId++}.25`,
        () => `${this.nextId++}e3`,
        () => JSON.stringify(`s${this.nextId++}`),
        () => JSON.stringify(`${this.rng.pick(EDGE_STRINGS)}${this.nextId++}`),
        () => JSON.stringify(this.rng.pick(EDGE_STRINGS)),
        () => this.rng.pick(EDGE_NUMBERS),
        () => this.rng.pick(['null', 'true', 'false', '{}', '[]', '[1]', '{"id":1}', '"\\u0069d"']),
      ])();
      const parsed: unknown = JSON.parse(text);
      const usable = typeof parsed === 'string' || (typeof parsed === 'number' && Number.isFinite(parsed)) || (jsonRpc && parsed === null);
      if (!usable) return { text, usable };
      // Two frames with one id could not be told apart in the replies.
      const key = JSON.stringify(parsed);
      if (parsed !== null && this.usedIds.has(key)) continue;
      this.usedIds.add(key);
      return { text, usable };
    }
    return { text: String(this.nextId++ + 1e6), usable: true };
  }

  // --- scripts --------------------------------------------------------------

  /** A runtime.execute payload: mostly valid, with a known answer when it can have one. */
  private script(): Built {
    const n = this.rng.int(0, 1e6);
    const code = (c: string) => JSON.stringify(c);
    const known: (() => Built)[] = [
      () => ({ text: `{"code":${code(`${n} * 3`)}}`, value: n * 3, label: 'arithmetic' }),
      () => ({
        text: `{"code":${code(`function h(cb) { setTimeout(() => cb(${n}), ${this.rng.int(0, 20)}); }`)},"call":"h"}`,
        value: n,
        label: 'a timer calling back',
      }),
      () => {
        const s = this.string();
        return {
          text: `{"code":${code(`async function h() { await null; return ${JSON.stringify(JSON.parse(s))}; }`)},"call":"h"}`,
          value: JSON.parse(s),
          label: `an async function returning ${s.slice(0, 40)}`,
        };
      },
      () => {
        const v = this.value(1);
        // A number token past a double's range parses to ±Infinity, which has no JSON form to arrive in.
        const g: unknown = JSON.parse(v);
        return {
          text: `{"code":"typeof g","globals":{"g":${v}}}`,
          value: hasNonFinite(g) ? undefined : typeof g,
          label: 'typeof a random global',
        };
      },
      () => {
        const v = this.value(1);
        return {
          text: `{"code":"JSON.stringify(g)","globals":{"g":${v}}}`,
          value: JSON.stringify(JSON.parse(v)),
          label: 'a random global echoed',
        };
      },
      () => {
        // Frame, payload and globals are three levels: stay below MAX_DEPTH in all.
        const depth = this.rng.int(1, this.limits.maxDepth - 5);
        const nest = this.rng.pick([nestedArrays(depth, '0'), nestedObjects(depth), nestedMixed(depth)]);
        return {
          text: `{"code":${code(DEPTH_OF_G)},"globals":{"g":${nest}}}`,
          value: depth,
          label: `globals ${depth} levels deep (under MAX_DEPTH)`,
        };
      },
      () => ({
        text: `{"code":${code(`console.log(${JSON.stringify(this.rng.pick(EDGE_STRINGS))}); ${n}`)},"timeout":${this.rng.int(50, 300)}}`,
        value: n,
        label: 'console.log of an edge string',
      }),
      () => ({ text: `{"code":${code('function h(cb) { cb(1); cb(2); }')},"call":"h"}`, value: 1, label: 'cb called twice' }),
      () => ({
        text: `{"code":"${n}","globals":null,"call":"","caller":"","timeout":null}`,
        value: n,
        label: 'the nulls old Go clients send',
      }),
      () => ({
        text: `{"code":${code(`const wait: number = ${this.rng.int(0, 20)}; await new Promise((r) => setTimeout(r, wait)); export default ${n};`)},"module":true,"typescript":true}`,
        value: n,
        label: 'a TypeScript module',
      }),
      () => ({
        text: `{"code":${code(`console.log(${JSON.stringify(this.rng.pick(EDGE_STRINGS))}); ${n}`)},"stream":true,"usage":true}`,
        value: n,
        label: 'streamed console and usage',
      }),
    ];
    const valid: (() => Built)[] = [
      () => ({
        text: `{"code":${code(`throw new Error(${JSON.stringify(this.rng.pick(EDGE_STRINGS))})`)}}`,
        code: ErrorCode.Exception,
        label: 'a throw',
      }),
      () => ({ text: `{"code":"null.x"}`, code: ErrorCode.Exception, label: 'a TypeError' }),
      () => ({ text: `{"code":"for (;;) {}","timeout":${this.rng.int(1, 60)}}`, code: ErrorCode.Timeout, label: 'a busy loop' }),
      () => ({ text: `{"code":${code(`Promise.reject(${this.value(2)})`)}}`, code: ErrorCode.Exception, label: 'a rejection' }),
      () => ({ text: `{"code":${code(`"x".repeat(${this.rng.int(0, 100000)})`)}}`, label: 'a long string result' }),
      () => ({ text: `{"code":${code(`JSON.parse(${JSON.stringify(nestedArrays(this.rng.int(100, 10000)))})`)}}`, label: 'a deep result' }),
      () => ({
        text: `{"code":${code(this.rng.pick(['globalThis', 'this', 'Symbol("s")', 'undefined', '1n', 'new Date(0)', '[1,,3]', '({ toJSON() { return 1 } })', 'new Map([[1, 2]])', '-0', 'NaN', 'Infinity', '"\\ud800"', 'eval("1+1")']))}}`,
        label: 'an odd result',
      }),
      () => ({
        text: `{"code":${code(`for (let i = 0; i < ${this.rng.int(1, 2000)}; i++) console.log(i, "😀".repeat(${this.rng.int(0, 50)})); 1`)}}`,
        label: 'console lines',
      }),
      () => ({ text: `{"code":"1","call":${this.string()}}`, label: 'a call to something else' }),
      () => ({ text: `{"code":"function h(cb) { cb(2); }","call":"h","caller":${this.string()}}`, label: 'a random caller' }),
      () => ({ text: `{"code":"1","globals":{${this.objectMembers(4)}}}`, label: 'random globals' }),
      () => ({
        text: `{"code":"Object.keys(globalThis).length","globals":{"__proto__":{"x":1},"constructor":1,"console":2,"setTimeout":3}}`,
        label: 'globals shadowing builtins',
      }),
      () => ({ text: `{"code":"setTimeout(() => {}, 10); 1","timeout":${this.rng.pick(['0.5', '1', '200'])}}`, label: 'a short timeout' }),
    ];
    const invalid: (() => Built)[] = [
      () => ({
        text: `{"code":${this.rng.pick(['"function ("', '"}"', '"let let = 1"', '"\\"unterminated"', '"return 1"', '"await 1"', '"import x from \\"y\\""'])}}`,
        code: ErrorCode.Exception,
        label: 'a syntax error',
      }),
      () => ({ text: `{"code":${this.string()}}`, label: 'random code' }),
      () => ({
        text: `{"code":${this.rng.pick(['1', 'null', 'true', '[]', '{}', '["1"]'])}}`,
        code: ErrorCode.InvalidParams,
        label: 'code that is not a string',
      }),
      () => ({
        text: `{"code":"1","globals":${this.rng.pick(['"g"', '1', '[]', '[1]', 'true'])}}`,
        code: ErrorCode.InvalidParams,
        label: 'globals that are not an object',
      }),
      () => ({
        text: `{"code":"1","timeout":${this.rng.pick(['-1', '0', '"100"', '1e400', '2000', '[]', 'true'])}}`,
        code: ErrorCode.InvalidParams,
        label: 'an invalid timeout',
      }),
      () => ({
        text: `{"code":"1","call":${this.rng.pick(['1', '[]', '{}', 'true'])}}`,
        code: ErrorCode.InvalidParams,
        label: 'a call that is not a string',
      }),
      () => ({
        text: `{"code":"1","${this.rng.pick(['module', 'typescript', 'stream', 'usage'])}":${this.rng.pick(['1', '"yes"', '[]', '{}'])}}`,
        code: ErrorCode.InvalidParams,
        label: 'a flag that is not a boolean',
      }),
      () => ({
        text: `{"code":${code(`import x from ${JSON.stringify(this.rng.pick(['fs', 'lodash/fp', './x', '/etc/passwd', 'node:child_process']))}; x`)},"module":true}`,
        code: ErrorCode.Exception,
        label: 'a refused import',
      }),
      () => ({ text: '{}', code: ErrorCode.InvalidParams, label: 'no code' }),
      () => ({ text: `{"code":"1","timeout":100,"extra":${this.value(2)}}`, label: 'an unknown field' }),
    ];
    const roll = this.rng.next();
    return this.rng.pick(roll < 0.5 ? known : roll < 0.8 ? valid : invalid)();
  }

  // --- other frames -----------------------------------------------------------

  /** A frame nested far past MAX_DEPTH, or just past it, somewhere. */
  private deepFrame(dialect: 'duplex' | 'jsonrpc'): Frame {
    const depth = this.rng.chance(0.7) ? this.rng.int(5000, 10000) : this.limits.maxDepth + this.rng.int(2, 20);
    const nest = this.rng.pick([
      () => nestedArrays(depth, this.rng.pick(['', '1', '"x"'])),
      () => nestedObjects(depth),
      () => nestedMixed(depth),
    ])();
    const where = this.rng.pick(['globals', 'ext', 'payload', 'id', 'top-level', 'more'] as const);
    if (where === 'top-level') return { data: nest, binary: false, label: `${depth} levels at the top level` };
    const id = this.id(dialect === 'jsonrpc');
    const script = `{"code":"function f(cb) { cb(1); }","call":"f","globals":${where === 'globals' ? `{"deep":${nest}}` : '{}'}}`;
    const entries: [string, string][] =
      dialect === 'duplex'
        ? [
            ['type', '"req"'],
            ['method', '"runtime.execute"'],
            ['payload', where === 'payload' ? nest : script],
          ]
        : [
            ['jsonrpc', '"2.0"'],
            ['method', '"runtime.execute"'],
            ['params', where === 'payload' ? nest : script],
          ];
    if (where === 'ext') entries.push(['ext', nest]);
    if (where === 'more') entries.push(['more', nest]);
    const idText = where === 'id' ? nest : id.text;
    // The id first (readable before the nesting) or last.
    if (this.rng.chance(0.6)) entries.unshift(['id', idText]);
    else entries.push(['id', idText]);
    return { data: this.object(entries), binary: false, label: `${depth} levels deep in ${where}` };
  }

  /** Large strings in code, globals or ext. */
  private large(dialect: 'duplex' | 'jsonrpc'): Frame {
    const size = this.rng.int(10000, Math.floor(this.limits.maxFrameBytes * 0.8));
    const unit = this.rng.pick(['x', '😀', 'é', '\u0000', '\ud800', '"']);
    const big = unit.repeat(Math.ceil(size / unit.length));
    const n = this.rng.int(0, 1000);
    const kind = this.rng.pick(['comment', 'global', 'ext'] as const);
    const script =
      kind === 'comment'
        ? { text: `{"code":${JSON.stringify(`/*${big}*/ ${n} * 3`)}}`, value: n * 3 }
        : kind === 'global'
          ? { text: `{"code":"s.length","globals":{"s":${JSON.stringify(big)}}}`, value: big.length }
          : { text: `{"code":"${n}"}`, value: n };
    const id = this.id(dialect === 'jsonrpc');
    const entries: [string, string][] =
      dialect === 'duplex'
        ? [
            ['type', '"req"'],
            ['method', '"runtime.execute"'],
            ['id', id.text],
            ['payload', script.text],
          ]
        : [
            ['jsonrpc', '"2.0"'],
            ['method', '"runtime.execute"'],
            ['id', id.text],
            ['params', script.text],
          ];
    if (kind === 'ext') entries.push(['ext', JSON.stringify(big)]);
    return {
      data: this.object(entries),
      binary: false,
      value: id.usable ? script.value : undefined,
      label: `a large string (${kind}, ${Buffer.byteLength(big)} bytes of ${JSON.stringify(unit)})`,
    };
  }

  /** Every JSON type at the top level, batches among them. */
  private topLevelValue(dialect: 'duplex' | 'jsonrpc'): string {
    return this.rng.pick([
      () => this.rng.pick(['null', 'true', 'false', '0', '-1.5', '1e400', '"str"', `"${HANDSHAKE}"`, '[]', '{}', '[[]]', '[{}]']),
      () => this.value(0),
      () => `[${(dialect === 'duplex' ? this.duplexRequest() : this.jsonRpcRequest()).text}]`,
      () => `[${this.jsonRpcRequest().text},${this.jsonRpcRequest().text}]`,
    ])();
  }

  /** Invalid JSON: a catalogue, truncations of real requests, garbage around them. */
  private broken(dialect: 'duplex' | 'jsonrpc'): Frame {
    const request = (dialect === 'duplex' ? this.duplexRequest() : this.jsonRpcRequest()).text;
    const text = this.rng.pick([
      () => this.rng.pick(BROKEN_JSON),
      () => request.slice(0, this.rng.int(1, Math.max(1, request.length - 1))),
      () => `\ufeff${request}`,
      () => `${request}${this.rng.pick(['x', '\u0000', ',', '}', ']', '{}', ' 1'])}`,
      () => request.replace(/"/, "'"),
      () => this.randomText(this.rng.int(1, 200)),
    ])();
    return { data: text, binary: this.rng.chance(0.1), label: `broken JSON: ${text.slice(0, 120)}` };
  }

  // --- values ---------------------------------------------------------------

  /** A random JSON value as text; `level` bounds how much deeper it may nest. */
  private value(level: number): string {
    const roll = this.rng.int(0, level > 3 ? 5 : 8);
    switch (roll) {
      case 0:
        return 'null';
      case 1:
        return this.rng.pick(['true', 'false']);
      case 2:
      case 3:
        return this.number();
      case 4:
      case 5:
        return this.string();
      case 6:
      case 7: {
        const items = Array.from({ length: this.rng.int(0, 4) }, () => this.value(level + 1));
        return `[${items.join(',')}]`;
      }
      default:
        return `{${this.objectMembers(4, level + 1)}}`;
    }
  }

  private objectMembers(most: number, level = 1): string {
    return Array.from({ length: this.rng.int(0, most) }, () => {
      const key = this.rng.chance(0.5) ? this.rng.pick(KEYS) : this.randomText(this.rng.int(0, 8));
      // An id anywhere may be read as a frame's id: it comes from the ids unique on this connection.
      return `${JSON.stringify(key)}:${key === 'id' ? this.id().text : this.value(level)}`;
    }).join(',');
  }

  private number(): string {
    return this.rng.pick([
      () => this.rng.pick(EDGE_NUMBERS),
      () => String(this.rng.int(-1e9, 1e9)),
      () => String(this.rng.next() * 1e6 - 5e5),
    ])();
  }

  /** A JSON string token: edge strings, random text, raw or escaped unicode. */
  private string(): string {
    return this.rng.pick([
      () => JSON.stringify(this.rng.pick(EDGE_STRINGS)),
      () => JSON.stringify(this.randomText(this.rng.int(0, 30))),
      () =>
        `"${this.rng.pick(['\\ud800', '\\udfff', '\\ud83d\\ude00', '\\u0000', '\\ufeff', '\\u2028\\u2029', '\\/', '\\b\\f'])}${this.rng.int(0, 99)}"`,
      () => JSON.stringify(String.fromCodePoint(...Array.from({ length: this.rng.int(1, 10) }, () => this.rng.int(0, 0x10ffff)))),
    ])();
  }

  /** Printable ASCII mostly, with quotes, backslashes and controls. */
  private randomText(length: number): string {
    const alphabet = 'abcXYZ019 {}[]":,\\\'\n\t/*-+.eE\u0000é😀';
    return Array.from({ length }, () => this.rng.pick([...alphabet])).join('');
  }

  private whitespace(): string {
    return Array.from({ length: this.rng.int(0, 3) }, () => this.rng.pick([' ', '\n', '\t', '\r'])).join('');
  }

  /** An object from [key, JSON value text] entries, keys sometimes written with escapes. */
  private object(entries: [string, string][]): string {
    const key = (k: string) =>
      this.rng.chance(0.03) ? `"${[...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"` : JSON.stringify(k);
    return `{${entries.map(([k, v]) => `${key(k)}:${v}`).join(',')}}`;
  }
}

/** Whether `key` is among `entries` exactly once, and no other key is duplicated (a request whose answer is known). */
function hasOnce(entries: [string, string][], key: string): boolean {
  const keys = entries.map(([k]) => k);
  return keys.includes(key) && new Set(keys).size === keys.length;
}

interface Built {
  text: string;
  value?: unknown;
  code?: number;
  label: string;
}

/** Counts how deep the global `g` is, following the first member of each level. */
const DEPTH_OF_G =
  'let d = 0; for (let x = g; typeof x === "object" && x !== null; x = Array.isArray(x) ? x[0] : Object.values(x)[0]) d++; d';

function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasNonFinite);
  return false;
}
