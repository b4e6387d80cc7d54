import { Writable } from 'node:stream';
import { styleText } from 'node:util';
import type { Logger } from '@wabridge/core';
import { pino } from 'pino';

/**
 * JSON logs with pino. Secrets are redacted by path as a second line of defence; the first is
 * that no code puts them (or message bodies) in log fields. With `pretty` (a terminal in
 * development) each record is one readable line instead: time, level, message, then its fields.
 */
export function createLogger(
  level: string,
  destination?: NodeJS.WritableStream,
  options: { pretty?: boolean } = {},
): Logger {
  const config = {
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
  const target = options.pretty ? prettyStream(destination ?? process.stdout, level) : destination;
  return (target ? pino(config, target as never) : pino(config)) as unknown as Logger;
}

const LEVELS: Record<number, { name: string; style: Parameters<typeof styleText>[0] }> = {
  10: { name: 'TRACE', style: 'gray' },
  20: { name: 'DEBUG', style: 'gray' },
  30: { name: 'INFO', style: 'green' },
  40: { name: 'WARN', style: 'yellow' },
  50: { name: 'ERROR', style: 'red' },
  60: { name: 'FATAL', style: 'red' },
};

/** Fields every record has, or that the line shows in its own place. */
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg', 'err']);

/**
 * Turns pino's JSON lines into `12:03:04.512 WARN  message  key=value …`. An error shows its
 * message; its stack only at debug level, where someone is looking for where it came from.
 */
export function prettyStream(out: NodeJS.WritableStream, level: string): Writable {
  const stacks = level === 'debug' || level === 'trace';
  const colour = (out as { isTTY?: boolean }).isTTY === true;
  const paint = (style: Parameters<typeof styleText>[0], text: string) =>
    colour ? styleText(style, text) : text;
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line) out.write(`${formatRecord(line, paint, stacks)}\n`);
      }
      done();
    },
  });
}

export function formatRecord(
  line: string,
  paint: (style: Parameters<typeof styleText>[0], text: string) => string = (_, text) => text,
  stacks = false,
): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const level = LEVELS[Number(record.level)] ?? { name: String(record.level), style: 'white' as const };
  const fields = Object.entries(record)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const err = record.err as { type?: string; message?: string; stack?: string } | undefined;
  const parts = [
    paint('gray', time),
    paint(level.style, level.name.padEnd(5)),
    String(record.msg ?? ''),
    ...(fields.length > 0 ? [paint('gray', fields.join(' '))] : []),
    ...(err ? [paint('red', `${err.type ?? 'Error'}: ${err.message ?? ''}`)] : []),
  ];
  const text = parts.filter(Boolean).join('  ');
  return stacks && err?.stack ? `${text}\n${paint('gray', err.stack)}` : text;
}
