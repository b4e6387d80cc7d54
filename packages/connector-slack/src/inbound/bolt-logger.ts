import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '@wabridge/core';

const text = (parts: unknown[]) =>
  parts.map((p) => (p instanceof Error ? p.message : typeof p === 'string' ? p : String(p))).join(' ');

/**
 * Bolt's logger interface over the connector's scoped logger, so Bolt never writes to the console.
 * Objects are not serialised: Bolt passes request bodies only in developer mode, which is off.
 */
export function boltLogger(logger: Logger): BoltLogger {
  const scoped = logger.child({ via: 'bolt' });
  let level = LogLevel.INFO;
  return {
    debug: (...parts: unknown[]) => scoped.debug({}, text(parts)),
    info: (...parts: unknown[]) => scoped.info({}, text(parts)),
    warn: (...parts: unknown[]) => scoped.warn({}, text(parts)),
    error: (...parts: unknown[]) => scoped.error({}, text(parts)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
