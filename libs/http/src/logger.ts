import pino from 'pino';
import type { Logger } from '@mcp-auth/contracts';

export type { Logger };

/** JSON logs on stdout (stderr with toStderr, for processes whose stdout is a protocol channel). */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', { toStderr = false } = {}): Logger {
  return pino({
    name: service,
    level,
    base: { service, pid: process.pid },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        '*.password',
        '*.client_secret',
        '*.refresh_token',
        '*.access_token',
        '*.code',
        '*.code_verifier',
      ],
      censor: '[redacted]',
    },
  }, pino.destination(toStderr ? 2 : 1));
}
