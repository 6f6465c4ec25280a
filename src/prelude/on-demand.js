// The core-js web APIs (URL, URLSearchParams, atob, btoa, structuredClone):
// module code that every fresh context would otherwise set up, for scripts
// that mostly never touch them. scripts/build-prelude.mjs bundles this
// file into a function the prelude calls at most once per context, on a
// script's first use. Loaded after the script may have run, they can see its
// changes to intrinsics; they only shape that script's own values, never what
// the host receives about results, errors or timers.
export const URL = () => require('core-js-pure/stable/url/index.js');
export const URLSearchParams = () => require('core-js-pure/stable/url-search-params/index.js');
export const atob = () => require('core-js-pure/stable/atob.js');
export const btoa = () => require('core-js-pure/stable/btoa.js');
export const structuredClone = () => require('core-js-pure/stable/structured-clone.js');
