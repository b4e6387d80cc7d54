import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

/** A terminal-less sink that keeps what was written. */
function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

describe('createLogger', () => {
  it('writes JSON lines by default, for collectors', () => {
    const { stream, lines } = sink();
    createLogger('info', stream).warn({ workspace: 'acme' }, 'something to see');
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      level: 40,
      msg: 'something to see',
      workspace: 'acme',
    });
  });

  it('writes one readable line per record when pretty: time, level, message, fields, error', () => {
    const { stream, lines } = sink();
    const logger = createLogger('info', stream, { pretty: true });
    logger.warn({ workspace: 'acme', config: { botToken: 'xoxb-secret' } }, 'delivery failed; will retry');
    logger.error({ err: new Error('socket hang up') }, 'maintenance failed');
    logger.debug({}, 'not at info');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} {2}WARN {3}delivery failed; will retry {2}workspace=acme config=\{"botToken":"\[redacted\]"\}$/,
    );
    expect(lines[1]).toMatch(/ERROR {2}maintenance failed {2}Error: socket hang up$/);
    expect(lines.join('\n')).not.toContain('    at ');
  });
});
