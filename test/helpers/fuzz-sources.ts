// Random and mutated ES module and TypeScript sources for the source fuzz test
// (test/fuzz.test.ts), from the seeded PRNG of the frame fuzz: valid sources with
// a known value, the same nested under or past MAX_SOURCE_DEPTH (brackets,
// template substitutions) or with deep brackets hidden in strings and comments,
// nesting without brackets, mutations (slices cut, doubled, swapped; tokens
// that open or close strings, templates, comments, regexes dropped in), and
// token soup.
import type { Rng } from './fuzz-frames.js';

export interface SourceScript {
  script: { code: string; module?: true; typescript?: true };
  /** The value a success must carry, when it is known. */
  value?: unknown;
  /** Nested past MAX_SOURCE_DEPTH in brackets the scan counts: the reply must be the 1000 naming it. */
  tooDeep: boolean;
  label: string;
}

type Flags = Pick<SourceScript['script'], 'module' | 'typescript'>;

const MODULE: Flags = { module: true };
const TS_MODULE: Flags = { module: true, typescript: true };
const TS_SCRIPT: Flags = { typescript: true };

/** Tokens that change how what follows is read: brackets, quotes, template and comment openers, regex slashes, keywords. */
const TOKENS = [
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '`',
  '${',
  "'",
  '"',
  '/',
  '/*',
  '*/',
  '//',
  '\\',
  '\n',
  '<',
  '>',
  '=>',
  ':',
  ';',
  ',',
  '.',
  '!',
  '?',
  '@',
  '#',
  'import ',
  'export ',
  'await ',
  'yield ',
  'return ',
  ' as ',
  'enum ',
  'namespace ',
  'declare ',
  'type ',
  'typeof ',
  'new ',
  '\u2028',
  '\u0000',
  '\ud800',
  '😀',
];

export class SourceGenerator {
  constructor(
    private readonly rng: Rng,
    private readonly maxDepth: number,
  ) {}

  next(): SourceScript {
    const roll = this.rng.next();
    if (roll < 0.25) return this.known();
    if (roll < 0.45) return this.nested();
    if (roll < 0.55) return this.hidden();
    if (roll < 0.65) return this.unbracketed();
    if (roll < 0.9) return this.mutated();
    return this.soup();
  }

  /** A valid source and its value. */
  private known(): SourceScript {
    const n = this.rng.int(0, 1e6);
    const seeds: [string, Flags, unknown][] = [
      [`export default ${n} * 2;`, MODULE, n * 2],
      [`const x: number = ${n};\nx * 2`, TS_SCRIPT, n * 2],
      [`interface P { a: number }\nfunction f<T extends P>(p: T): number { return p.a; }\nexport default f({ a: ${n} });`, TS_MODULE, n],
      [`const s = \`<\${${n}}>\`;\nexport default s;`, MODULE, `<${n}>`],
      [`export default /[(]+\\)/.exec("a((()")![0].length + ${n};`, TS_MODULE, 4 + n],
      [`/* ((( [[[ */ export default ${n}; // {{{`, MODULE, n],
      [`enum E { A = ${n}, B }\nE.B`, TS_SCRIPT, n + 1],
      [
        `class C { constructor(private readonly v: number) {}\n get twice(): number { return this.v * 2; } }\nnew C(${n}).twice`,
        TS_SCRIPT,
        n * 2,
      ],
      [`const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));\nawait wait(1);\nexport default ${n};`, TS_MODULE, n],
      [`export function handle(cb: (v: unknown) => void) { cb(${n}); }\nexport default ${n} / 2 / (1);`, TS_MODULE, n / 2],
    ];
    const [code, flags, value] = this.rng.pick(seeds);
    return { script: { code, ...flags }, value, tooDeep: false, label: 'a valid source' };
  }

  /** A value nested `depth` levels deep in one kind of bracket: under the bound it runs, past it it is refused. */
  private nested(): SourceScript {
    const n = this.rng.int(0, 1e6);
    // An object is unwrapped to the value by a loop in a call, one level more.
    const [open, close, value, unwrap] = this.rng.pick<[string, string, unknown, (inner: string) => string]>([
      ['(', ')', n, (inner) => inner],
      ['[', ']', n, (inner) => `${inner}.flat(Infinity)[0]`],
      ['{ a: ', ' }', n, (inner) => `((o) => { while (typeof o === 'object') o = o.a; return o; })(${inner})`],
      ['`${', '}`', String(n), (inner) => inner],
    ]);
    const around = open === '{ a: ' ? 1 : 0;
    const over = this.rng.chance(0.5);
    const depth = over ? this.maxDepth + this.rng.int(1, this.rng.pick([10, 1000, 200000])) : this.rng.int(1, this.maxDepth - around);
    const inner = unwrap(`${open.repeat(depth)}${n}${close.repeat(depth)}`);
    const flags = this.rng.pick([MODULE, TS_MODULE, TS_SCRIPT]);
    const code = flags.module ? `export default ${inner};` : `const v: unknown = ${inner};\nv`;
    return {
      script: { code, ...flags },
      value: over ? undefined : value,
      tooDeep: over,
      label: `a value in ${depth} levels of ${open.trim()}`,
    };
  }

  /** Deep brackets inside a string, a template's text, a comment or a regex: not code, so not counted. */
  private hidden(): SourceScript {
    const depth = this.maxDepth + this.rng.int(1, 5000);
    const brackets = this.rng.pick(['(', '[', '{', ')', '}']).repeat(depth);
    const n = this.rng.int(0, 1e6);
    const [code, value] = this.rng.pick<[string, unknown]>([
      [`export default ${JSON.stringify(brackets)}.length + ${n};`, depth + n],
      [`export default \`${brackets}\`.length + ${n};`, depth + n],
      [`/* ${brackets} */\nexport default ${n};`, n],
      [`// ${brackets}\nexport default ${n};`, n],
      [`export default /${brackets.replace(/./g, '\\$&')}/.source.length / 2 + ${n};`, depth + n],
    ]);
    return {
      script: { code, ...this.rng.pick([MODULE, TS_MODULE]) },
      value,
      tooDeep: false,
      label: `${depth} brackets in a literal or comment`,
    };
  }

  /**
   * Nesting without brackets, which the scan does not count: esbuild may take
   * it, refuse it, or fail under it (about 8 KB of its memory a level; 600,000
   * levels overflow its stack).
   */
  private unbracketed(): SourceScript {
    const [token, wrap] = this.rng.pick<[string, (chain: string) => string]>([
      ['.b', (chain) => `export default a${chain};`],
      ['!', (chain) => `export default ${chain}0;`],
      ['- ', (chain) => `export default ${chain}1;`],
      ['a ? b : ', (chain) => `export default ${chain}c;`],
      ['a = ', (chain) => `let a;\nexport default ${chain}1;`],
      ['typeof ', (chain) => `export default ${chain}1;`],
      ['A<', (chain) => `type T = ${chain}B${'>'.repeat(chain.length / 2)};\nexport default 1;`],
    ]);
    const levels = Math.min(this.rng.chance(0.2) ? 600_000 : this.rng.int(100, 50_000), Math.floor(2_000_000 / token.length));
    const code = wrap(token.repeat(levels));
    return { script: { code, ...this.rng.pick([MODULE, TS_MODULE]) }, tooDeep: false, label: `${levels} levels of ${token.trim()}` };
  }

  /** A valid source cut, doubled, swapped or sprinkled with tokens. */
  private mutated(): SourceScript {
    const base = this.rng.chance(0.3) ? this.nested() : this.known();
    let code = base.script.code;
    for (let edits = this.rng.int(1, 4); edits > 0; edits--) {
      const at = this.rng.int(0, code.length);
      const to = this.rng.int(at, Math.min(code.length, at + 40));
      code = this.rng.pick([
        () => code.slice(0, at) + code.slice(to),
        () => code.slice(0, to) + code.slice(at, to) + code.slice(to),
        () => code.slice(at, to) + code.slice(0, at) + code.slice(to),
        () => code.slice(0, at) + this.tokens(this.rng.int(1, 6)) + code.slice(at),
      ])();
    }
    return { script: { code, ...this.flags(base.script) }, tooDeep: false, label: `mutated ${base.label}` };
  }

  private soup(): SourceScript {
    return { script: { code: this.tokens(this.rng.int(0, 400)), ...this.flags({}) }, tooDeep: false, label: 'token soup' };
  }

  private tokens(count: number): string {
    return Array.from({ length: count }, () => (this.rng.chance(0.7) ? this.rng.pick(TOKENS) : `a${this.rng.int(0, 9)} `)).join('');
  }

  /** The flags of `script`, or others at random (always a module or TypeScript: the path under test). */
  private flags(script: Flags): Flags {
    return this.rng.chance(0.7) && (script.module || script.typescript) ? script : this.rng.pick([MODULE, TS_MODULE, TS_SCRIPT]);
  }
}
