// One pino logger for the daemon. Secrets are never passed to it; the redaction
// below is a second line of defence should a header ever be logged.
import pino from 'pino';
import type { Config } from './config/types.js';

export type Logger = pino.Logger;

/** Logs to stdout, or to `fd` (a sandbox in a container keeps stdout for frames). */
export function createLogger(config: Pick<Config, 'logLevel' | 'noLogs'>, fd: 1 | 2 = 1): Logger {
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
    pino.destination(fd),
  );
}
