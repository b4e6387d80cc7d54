import { describe, expect, it } from 'vitest';
import { SerialByKey } from './serial-by-key.ts';

describe('SerialByKey', () => {
  it('runs one key’s work in order, one at a time, and other keys’ meanwhile; forgets idle keys', async () => {
    const serial = new SerialByKey();
    const log: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const a1 = serial.run('a', async () => {
      log.push('a1 start');
      await gate;
      log.push('a1 end');
    });
    const a2 = serial.run('a', async () => void log.push('a2'));
    const b1 = serial.run('b', async () => void log.push('b1'));
    await b1;
    expect(log).toEqual(['a1 start', 'b1']);
    release();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(serial.busyKeys).toBe(0);
  });

  it('goes on with a key’s next work after a failure, which reaches only its own caller', async () => {
    const serial = new SerialByKey();
    const failed = serial.run('a', async () => {
      throw new Error('no');
    });
    const next = serial.run('a', async () => 'ok');
    await expect(failed).rejects.toThrow('no');
    await expect(next).resolves.toBe('ok');
  });
});
