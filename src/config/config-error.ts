/** Settings the daemon cannot start with: every problem found, each a line saying what to change. */
export class ConfigError extends Error {
  readonly problems: string[];

  /** `warnings`: variables that look like a setting but are none, said too since one may be the cause. */
  constructor(problems: string[], warnings: readonly string[] = []) {
    super(`invalid settings:\n  ${[...problems, ...warnings.map((w) => `(warning) ${w}`)].join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
