// The bundled in-isolate prelude (built by scripts/build-prelude.mjs into dist/).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const BUNDLE = join(__dirname, '..', '..', 'prelude.js');

/** Script source whose completion value is the prelude's `setup` function. */
export function loadPrelude(): string {
  return `(() => {\n${readFileSync(BUNDLE, 'utf8')}\nreturn javascriptdPrelude.setup;\n})()`;
}
