import { describe, expect, it } from 'vitest';
import { buildReport, checkTarget, type Expected, formatReport, type Received } from './report.ts';

const item = (text: string): Received => ({ text });
const expected = (...texts: string[]): Expected[] =>
  texts.map((t) => ({ label: t, match: (i) => i.text === t }));

describe('the demo summary', () => {
  it('passes when every expected item is there once, in order', () => {
    const report = checkTarget('Slack', expected('a', 'b', 'c'), [item('a'), item('b'), item('c')]);
    expect(report).toMatchObject({ ok: true, missing: 0, duplicated: 0, inOrder: true, unexpected: [] });
  });

  it('fails on a missing item, a duplicated one, the wrong order, or anything unexpected', () => {
    expect(checkTarget('t', expected('a', 'b'), [item('a')])).toMatchObject({ ok: false, missing: 1 });
    expect(checkTarget('t', expected('a', 'b'), [item('a'), item('b'), item('b')])).toMatchObject({
      ok: false,
      duplicated: 1,
    });
    expect(checkTarget('t', expected('a', 'b'), [item('b'), item('a')])).toMatchObject({
      ok: false,
      inOrder: false,
    });
    expect(checkTarget('t', expected('a'), [item('a'), item('z')])).toMatchObject({
      ok: false,
      unexpected: ['z'],
    });
    expect(
      checkTarget('t', expected('a'), [item('a'), item('z')], { ignore: (i) => i.text === 'z' }).ok,
    ).toBe(true);
  });

  it('the whole verdict fails when one target or one check fails, and the text says which', () => {
    const good = checkTarget('WhatsApp', expected('a'), [item('a')]);
    const bad = checkTarget('Teams', expected('a', 'b'), [item('a'), item('a'), item('x')]);
    const report = buildReport([good, bad], [{ label: 'no dead job', ok: true }], 1234);
    expect(report.ok).toBe(false);
    const text = formatReport(report);
    expect(text).toMatch(/WhatsApp\s+1\s+1\s+0\s+0\s+0\s+yes/);
    expect(text).toMatch(/Teams\s+2\s+1\s+1\s+1\s+1\s+yes/);
    expect(text).toContain('✘ ×2  a');
    expect(text).toContain('✘ missing  b');
    expect(text).toContain('unexpected: x');
    expect(buildReport([good], [{ label: 'no dead job', ok: false }], 1).ok).toBe(false);
    expect(formatReport(buildReport([good], [], 1500))).toContain('All good');
  });
});
