// One pino logger for the daemon. Secrets are never passed to it; the redaction
// below is a second line of defence should a header ever be logged.
import { isatty } from 'node:tty';
import pino from 'pino';
import type { Config, LogFormat } from './config/types.js';

export type Logger = pino.Logger;

/** At most this long between a buffered line and its write. */
const FLUSH_MS = 100;

/** The format LOG_FORMAT chooses for lines written to `fd`: auto is pretty at a terminal, JSON elsewhere. */
export function logFormat(setting: Config['logFormat'], fd: 1 | 2 = 1): LogFormat {
  if (setting === 'pretty' || setting === 'json') return setting;
  return isatty(fd) ? 'pretty' : 'json';
}

/**
 * Logs to stdout, or to `fd` (a sandbox in a container keeps stdout for frames);
 * pretty or JSON as `config.logFormat` says (a sandbox is given the daemon's choice).
 * The daemon's JSON lines are written `buffered`: gathered and written
 * together at least every FLUSH_MS (or once 4 KB are waiting), so that the
 * line an execution logs costs it no write of its own; pino writes what is
 * left when the process exits. A sandbox writes each line at once: it may
 * abort right after its last.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'noLogs' | 'logFormat'>, fd: 1 | 2 = 1, buffered = false): Logger {
  const options: pino.LoggerOptions = {
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
  };
  if (logFormat(config.logFormat, fd) === 'json') {
    if (!buffered) return pino(options, pino.destination(fd));
    const logger = pino(options, pino.destination({ dest: fd, sync: false, minLength: 4096 }));
    setInterval(() => logger.flush(), FLUSH_MS).unref();
    return logger;
  }
  // Loaded only for pretty lines: JSON logging, the daemon's usual, does without it.
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pino(options, pretty({ destination: fd, sync: true, colorize: isatty(fd) }));
}
