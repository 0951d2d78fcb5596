import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout. Credentials are redacted wherever they could appear. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
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
  });
}
