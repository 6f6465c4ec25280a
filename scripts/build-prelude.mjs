// Bundles the in-isolate prelude (and object-inspect) into one script: dist/prelude.js.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/sandbox/prelude/prelude.js'],
  outfile: 'dist/prelude.js',
  bundle: true,
  format: 'iife',
  globalName: 'javascriptdPrelude',
  platform: 'browser',
  target: 'es2022',
  legalComments: 'none',
  logLevel: 'warning',
});
