// Bundles the in-isolate prelude into one script, dist/prelude.js. Every fresh
// context runs it, so what it evaluates up front is kept small:
// - groups of APIs a script may never touch are bundled apart and wrapped in a
//   function, evaluated on first use: the web APIs of src/prelude/web-apis.js
//   (`javascriptd:web-apis`) and the core-js libraries of
//   src/prelude/on-demand.js (`javascriptd:on-demand`);
// - object-inspect's string-width table (needed only to lay out long arrays)
//   is built on its first call.
// It also bundles dist/library.js, the script of an isolate's library realm
// (src/prelude-library), with SES's lockdown wrapped the same way: evaluated
// only once a script requires a module.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { build } from 'esbuild';

const common = { bundle: true, format: 'iife', platform: 'browser', target: 'es2022', legalComments: 'none', logLevel: 'warning' };

/** `import { name } from 'javascriptd:<specifier>'` gives a function that evaluates `entry` on its first call and returns its exports. */
async function onFirstUse(specifier, name, entry) {
  const bundled = await build({ ...common, entryPoints: [entry], globalName: 'group', write: false });
  const contents = `let loaded;\nexport function ${name}() {\n  if (loaded === undefined) loaded = (() => {\n${bundled.outputFiles[0].text}\nreturn group;\n})();\n  return loaded;\n}\n`;
  return { filter: new RegExp(`^javascriptd:${specifier}$`), contents };
}

const groups = [
  await onFirstUse('on-demand', 'onDemand', 'src/prelude/on-demand.js'),
  await onFirstUse('web-apis', 'webApiGroup', 'src/prelude/web-apis.js'),
];

const firstUseGroups = {
  name: 'first-use-groups',
  setup(builder) {
    for (const { filter, contents } of groups) {
      builder.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'first-use' }));
      builder.onLoad({ filter, namespace: 'first-use' }, () => ({ contents, loader: 'js' }));
    }
  },
};

// SES's lockdown shim (it defines globalThis.lockdown and, once that has run, harden); strict, as SES requires.
const ses = await build({ ...common, stdin: { contents: "import 'ses/lockdown-shim.js';", resolveDir: '.' }, minify: true, write: false });

const sesModule = {
  name: 'ses',
  setup(builder) {
    builder.onResolve({ filter: /^javascriptd:ses$/ }, (args) => ({ path: args.path, namespace: 'ses' }));
    builder.onLoad({ filter: /.*/, namespace: 'ses' }, () => ({
      contents: `export function lockdownShim() {\n${ses.outputFiles[0].text}\n}\n`,
      loader: 'js',
    }));
  },
};

const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(builder) {
    builder.onLoad({ filter: /object-inspect[\\/]stringWidth\.js$/, namespace: 'file' }, (args) => ({
      contents: `let width;\nmodule.exports = function getStringWidth(text) {\n  if (width === undefined) width = require(${JSON.stringify(`${args.path}?eager`)});\n  return width(text);\n};\n`,
      loader: 'js',
    }));
    builder.onResolve({ filter: /\?eager$/ }, (args) => ({ path: args.path.slice(0, -'?eager'.length), namespace: 'eager' }));
    builder.onLoad({ filter: /.*/, namespace: 'eager' }, (args) => ({
      contents: readFileSync(args.path, 'utf8'),
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

await build({
  ...common,
  entryPoints: ['src/prelude/prelude.js'],
  outfile: 'dist/prelude.js',
  globalName: 'javascriptdPrelude',
  plugins: [firstUseGroups, lazyStringWidth],
});

await build({
  ...common,
  entryPoints: ['src/prelude-library/library.js'],
  outfile: 'dist/library.js',
  globalName: 'javascriptdLibrary',
  plugins: [sesModule],
});
