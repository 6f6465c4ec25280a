// One pino logger for the daemon. Secrets are never passed to it; the redaction
// below is a second line of defence should a header ever be logged.
import pino from 'pino';
import type { Config } from './config/types.js';

export type Logger = pino.Logger;

/**
 * Logs to stdout, or to `fd` (a sandbox in a container keeps stdout for frames).
 * The daemon's lines are written `async`: a line an execution is not a write
 * call of its own on the main thread, and lines logged together go out in one
 * write (pino flushes what is left when the process exits). A sandbox writes
 * each line at once: it may abort right after its last.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'noLogs'>, fd: 1 | 2 = 1, async = false): Logger {
  return pino(
    {
      name: 'javascriptd',
      level: config.noLogs ? 'silent' : config.logLevel,
      redact: {
        paths: [
          'secret',
          '*.secret',
          ...['x-runtime-secret', 'authorization', 'sec-websocket-protocol'].flatMap((name) => [
            `headers["${name}"]`,
            `*.headers["${name}"]`,
          ]),
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: fd, sync: !async }),
  );
}
