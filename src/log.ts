// One pino logger for the daemon. Secrets are never passed to it; the redaction
// below is a second line of defence should a header ever be logged.
import pino from 'pino';
import type { Config } from './config.js';

export type Logger = pino.Logger;

export function createLogger(config: Pick<Config, 'logLevel' | 'noLogs'>): Logger {
  return pino({
    name: 'javascriptd',
    level: config.noLogs ? 'silent' : config.logLevel,
    redact: { paths: ['secret', '*.secret', 'headers["x-runtime-secret"]', '*.headers["x-runtime-secret"]'], censor: '[redacted]' },
  });
}
