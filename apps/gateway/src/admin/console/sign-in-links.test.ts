import { describe, expect, it } from 'vitest';
import { SignInLinks } from './sign-in-links.ts';

describe('one-time sign-in links', () => {
  it('a link gives its credentials once, and never after its ten minutes', () => {
    let now = 1_000_000;
    const links = new SignInLinks({ now: () => now });
    const credentials = { email: 'demo@wabridge.example', password: 'a long demo password' };
    const path = links.issue(credentials);
    expect(path).toMatch(/^\/admin\/sign-in\/link\/[\w-]{32}$/);
    expect(path).not.toContain('demo');
    const token = path.split('/').at(-1) ?? '';
    expect(links.take(token)).toEqual(credentials);
    expect(links.take(token)).toBeNull();

    const late = links.issue(credentials).split('/').at(-1) ?? '';
    now += 10 * 60_000;
    expect(links.take(late)).toBeNull();
    expect(links.take('made-up')).toBeNull();
  });
});
