import type { Logger } from '@wabridge/core';
import { pino } from 'pino';

/**
 * JSON logs with pino. Secrets are redacted by path as a second line of defence; the first is
 * that no code puts them (or message bodies) in log fields.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'wabridge' },
    redact: {
      paths: [
        '*.token',
        '*.accessToken',
        '*.secret',
        '*.appSecret',
        '*.signingSecret',
        '*.botToken',
        '*.password',
        '*.authorization',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
    serializers: { err: pino.stdSerializers.err },
  };
  return (destination ? pino(options, destination as never) : pino(options)) as unknown as Logger;
}
