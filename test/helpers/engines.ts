// Suites that need a system engine this machine may lack (a Docker engine,
// HAProxy, a browser). Where it is missing they are pending, their title
// saying what to install; with JAVASCRIPTD_REQUIRE_ENGINES=1 (.ci/run sets it)
// a missing engine fails them instead, so CI always runs them for real.

/** The variable that turns a missing engine into a failure. */
export const REQUIRE_ENGINES = 'JAVASCRIPTD_REQUIRE_ENGINES';

/**
 * `describe`, unless `missing()` (checked once, as the file loads) says why the
 * engine cannot be used: then the suite is pending, or one failing test under
 * JAVASCRIPTD_REQUIRE_ENGINES=1.
 */
export function describeWithEngine(title: string, missing: () => string | undefined, body: (this: Mocha.Suite) => void): Mocha.Suite | void {
  const reason = missing();
  if (reason === undefined) return describe(title, body);
  if (process.env[REQUIRE_ENGINES] === '1') {
    return describe(title, () => {
      it('has the engine it needs', () => {
        throw new Error(`${reason} (${REQUIRE_ENGINES}=1)`);
      });
    });
  }
  return describe.skip(`${title} (pending: ${reason})`, body);
}
