// Bundles the in-isolate prelude into one script, dist/prelude.js. The
// libraries of src/sandbox/prelude/on-demand.js are bundled apart and wrapped
// in a function (`javascriptd:on-demand`), so a context pays for them only if
// a script uses them.
import { build } from 'esbuild';

const common = { bundle: true, format: 'iife', platform: 'browser', target: 'es2022', legalComments: 'none', logLevel: 'warning' };

const onDemand = await build({ ...common, entryPoints: ['src/sandbox/prelude/on-demand.js'], globalName: 'onDemand', write: false });

const onDemandModule = {
  name: 'on-demand',
  setup(builder) {
    builder.onResolve({ filter: /^javascriptd:on-demand$/ }, (args) => ({ path: args.path, namespace: 'on-demand' }));
    builder.onLoad({ filter: /.*/, namespace: 'on-demand' }, () => ({
      contents: `let loaded;\nexport function onDemand() {\n  if (loaded === undefined) loaded = (() => {\n${onDemand.outputFiles[0].text}\nreturn onDemand;\n})();\n  return loaded;\n}\n`,
      loader: 'js',
    }));
  },
};

await build({ ...common, entryPoints: ['src/sandbox/prelude/prelude.js'], outfile: 'dist/prelude.js', globalName: 'javascriptdPrelude', plugins: [onDemandModule] });
