// `console` for scripts, with CONSOLE_LIMIT applied here, before a line is
// copied out of the isolate: lines within the limit go to the host; past it
// (once one line did not fit, every later line too) they are only counted,
// and the counts are reported at most every REPORT_MS and before the outcome.
// Rule: it runs after untrusted code, so the counting and what goes to `host`
// use only intrinsics captured at load (here and in format.js, text.js).
import inspect from 'object-inspect';
import { format } from './format.js';
import { utf8Length } from './text.js';

const DateNow = Date.now;
const REPORT_MS = 50;

/**
 * @param {(op: string, ...args: unknown[]) => void} host
 * @param {number} limitBytes CONSOLE_LIMIT; each line counts one byte more, for its newline
 */
export function makeConsole(host, limitBytes) {
  let keptBytes = 0;
  let droppedLines = 0;
  let droppedBytes = 0;
  let reportedLines = 0;
  let reportedAt = 0;

  function report() {
    if (droppedLines === reportedLines) return;
    reportedLines = droppedLines;
    reportedAt = DateNow();
    host('dropped', droppedLines, droppedBytes);
  }

  function emit(args) {
    const line = format(args);
    const size = utf8Length(line) + 1;
    if (droppedLines === 0 && keptBytes + size <= limitBytes) {
      keptBytes += size;
      host('log', line);
      return;
    }
    droppedLines++;
    droppedBytes += size - 1;
    if (DateNow() - reportedAt >= REPORT_MS) report();
  }

  const console = {};
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    console[method] = (...args) => {
      emit(args);
    };
  }
  console.dir = (value) => {
    emit([inspect(value, { depth: 3 })]);
  };
  /** Reports the last counts: called before the outcome is sent. */
  return { console, flush: report };
}
