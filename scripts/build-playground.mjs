// Bundles the playground page (src/playground) into dist/playground: one
// minified script and one stylesheet, named by their content's hash (the
// daemon serves them as immutable), and index.html naming them. Everything the
// page runs is in these files: CodeMirror included, nothing from elsewhere.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist/playground';
rmSync(OUT, { recursive: true, force: true });

const { metafile } = await build({
  entryPoints: ['src/playground/main.ts', 'src/playground/playground.css'],
  outdir: OUT,
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // Current Chromium, Firefox and Safari.
  target: ['chrome120', 'firefox120', 'safari17'],
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const built = (entry) => basename(Object.entries(metafile.outputs).find(([, output]) => output.entryPoint === entry)[0]);
const page = readFileSync('src/playground/index.html', 'utf8')
  .replace('__JS__', built('src/playground/main.ts'))
  .replace('__CSS__', built('src/playground/playground.css'));
writeFileSync(`${OUT}/index.html`, page);
