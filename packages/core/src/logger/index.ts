/**
 * The logger packages receive. The gateway passes a pino logger (it fits this shape); tests pass
 * `silentLogger` or `memoryLogger()`. Packages never call `console`.
 * Message bodies and secrets never go in log fields at info level or above.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/**
 * `parent.child(bindings)`, made only when something is logged through it. The worker gives every
 * job (or batch) a child logger with the job's fields, and nearly all of them log nothing; a pino
 * child serialises and redacts its bindings when it is made, which was the largest allocation
 * of the main thread per delivered job after the HTTP client's (docs/performance.md, "The
 * worker's per-job logger"). A child of this logger adds its bindings to these, still unmade.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let made: Logger | null = null;
  const real = (): Logger => {
    made ??= parent.child(bindings);
    return made;
  };
  return {
    debug: (...args) => real().debug(...args),
    info: (...args) => real().info(...args),
    warn: (...args) => real().warn(...args),
    error: (...args) => real().error(...args),
    child: (more) => (made ? made.child(more) : lazyChild(parent, { ...bindings, ...more })),
  };
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string | undefined;
  fields: Record<string, unknown>;
}

/** A logger that keeps records in memory, so tests can assert what was (and was not) logged. */
export function memoryLogger(
  records: LogRecord[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { records: LogRecord[] } {
  const at =
    (level: LogRecord['level']) =>
    (obj: object, msg?: string): void => {
      records.push({ level, msg, fields: { ...bindings, ...obj } });
    };
  return {
    records,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => memoryLogger(records, { ...bindings, ...more }),
  };
}
