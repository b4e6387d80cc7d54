import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../logger/index.ts';
import { positional, SqliteDatabase } from './database.ts';

describe('named parameters bound by position', () => {
  it('numbers each name once, in order of first use, and leaves quoted text and comments alone', () => {
    expect(
      positional(`SELECT ':not_a_param', "odd:column", x -- :comment
        FROM t WHERE a = :first AND b = :second OR c = :first AND d = 'it''s :quoted'`),
    ).toEqual({
      text: `SELECT ':not_a_param', "odd:column", x -- :comment
        FROM t WHERE a = ?1 AND b = ?2 OR c = ?1 AND d = 'it''s :quoted'`,
      names: ['first', 'second'],
    });
  });

  it('binds the same values as by name: repeated names, literals with colons, omitted names as NULL', async () => {
    const db = new SqliteDatabase(':memory:', { logger: silentLogger });
    db.migrate();
    await db.write(() =>
      db.run(
        `INSERT INTO meta (key, value) VALUES (:key || ':suffix', coalesce(:missing, :key || '/' || :value))`,
        { key: 'k', value: 'v' },
      ),
    );
    expect(
      db.get("SELECT key, value FROM meta WHERE key = :key AND ':key' <> :key", { key: 'k:suffix' }),
    ).toEqual({ key: 'k:suffix', value: 'k/v' });
    expect(() => db.run('SELECT :value', { value: undefined as never })).toThrow();
    await db.close();
  });
});
