// A spinner with the elapsed time, on a terminal only: written to stderr, so
// piped stdout stays clean, and shown only once a run takes longer than a
// moment. Erases itself when stopped.
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SHOW_AFTER_MS = 250;
const EVERY_MS = 100;

/** Starts a spinner on `stream` if it is a terminal; returns the function that stops it. */
export function startSpinner(stream: NodeJS.WriteStream, label: string): () => void {
  if (!stream.isTTY) return () => {};
  const started = performance.now();
  let frame = 0;
  let interval: NodeJS.Timeout | undefined;
  const draw = () => stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} ${((performance.now() - started) / 1000).toFixed(1)}s`);
  const delay = setTimeout(() => {
    draw();
    interval = setInterval(draw, EVERY_MS);
  }, SHOW_AFTER_MS);
  return () => {
    clearTimeout(delay);
    if (interval === undefined) return;
    clearInterval(interval);
    stream.write('\r\x1b[2K');
  };
}
