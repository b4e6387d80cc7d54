import { describe, expect, it } from 'vitest';
import { type Logger, lazyChild, memoryLogger } from './index.ts';

/** A memory logger that counts the children made of it (and of them). */
function countingLogger() {
  const base = memoryLogger();
  let children = 0;
  const wrap = (logger: Logger): Logger => ({
    ...logger,
    child: (bindings) => {
      children++;
      return wrap(logger.child(bindings));
    },
  });
  return { logger: wrap(base), records: base.records, children: () => children };
}

describe('lazyChild', () => {
  it('makes no child until something is logged through it', () => {
    const { logger, children } = countingLogger();
    const child = lazyChild(logger, { job: 7 });
    child.child({ ref: 'a' });
    expect(children()).toBe(0);
  });

  it('logs with the bindings, and makes the child once', () => {
    const { logger, records, children } = countingLogger();
    const child = lazyChild(logger, { job: 7, connector: 'ledger' });
    child.warn({ code: 'x' }, 'first');
    child.info({}, 'second');
    expect(children()).toBe(1);
    expect(records).toEqual([
      { level: 'warn', msg: 'first', fields: { job: 7, connector: 'ledger', code: 'x' } },
      { level: 'info', msg: 'second', fields: { job: 7, connector: 'ledger' } },
    ]);
  });

  it('a child of it carries both sets of bindings, made or not', () => {
    const { logger, records } = countingLogger();
    const unmade = lazyChild(logger, { job: 7 });
    unmade.child({ ref: 'a' }).error({}, 'from the unmade');
    const made = lazyChild(logger, { job: 8 });
    made.debug({}, 'makes it');
    made.child({ ref: 'b' }).error({}, 'from the made');
    expect(records.map((r) => [r.msg, r.fields])).toEqual([
      ['from the unmade', { job: 7, ref: 'a' }],
      ['makes it', { job: 8 }],
      ['from the made', { job: 8, ref: 'b' }],
    ]);
  });
});
