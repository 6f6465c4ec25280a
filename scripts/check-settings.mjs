// `npm start` runs this before the build: the settings in the environment (and
// the CONFIG file it names) are checked from the TypeScript source, bundled in
// memory by esbuild, so that a wrong one is said in a fraction of a second, not
// after the build. It says what the daemon would (javascriptd: invalid
// settings: …) and exits 2 as it does; the daemon checks them again, with the
// rest (modules, fetch rules), and logs the warnings.

import { loadSource, root } from './load-source.mjs';

const { readConfig, ConfigError } = await loadSource({
  stdin: {
    contents: "export { readConfig } from './src/config/read-config.ts'; export { ConfigError } from './src/config/config-error.ts';",
    resolveDir: root,
    loader: 'ts',
  },
});
const { problems, warnings } = readConfig(process.env);
if (problems.length > 0) {
  process.stderr.write(`javascriptd: ${new ConfigError(problems, warnings).message}\n`);
  process.exit(2);
}
