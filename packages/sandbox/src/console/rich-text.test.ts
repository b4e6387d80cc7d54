import { describe, expect, it } from 'vitest';
import {
  emojiFor,
  fromCardMarkdown,
  fromHtml,
  fromSlackText,
  fromWhatsAppText,
  textOf,
} from './rich-text.ts';

describe('text as the console renders it: segments, never markup', () => {
  it('Slack text: escaped markup stays text, links keep only http(s) targets, mentions and dates read well', () => {
    const users = new Map([['U0GRACE001', 'Grace Hopper']]);
    const segments = fromSlackText(
      '&lt;img src=x onerror=alert(1)&gt; <https://example.com/a?b=1&amp;c=2|the order> <javascript:alert(1)|click> ' +
        '<@U0GRACE001> *bold* _it_ :eyes: <!date^1700000000^{date_short}|2023-11-14 22:13 UTC>',
      users,
    );
    expect(segments).toContainEqual({ t: 'text', v: '<img src=x onerror=alert(1)> ' });
    expect(segments).toContainEqual({ t: 'link', v: 'the order', href: 'https://example.com/a?b=1&c=2' });
    expect(segments.filter((s) => s.t === 'link')).toHaveLength(1);
    expect(segments).toContainEqual({ t: 'b', v: '@Grace Hopper' });
    expect(segments).toContainEqual({ t: 'b', v: 'bold' });
    expect(segments).toContainEqual({ t: 'i', v: 'it' });
    expect(textOf(segments)).toContain('click');
    expect(textOf(segments)).toContain('👀');
    expect(textOf(segments)).toContain('2023-11-14 22:13 UTC');
  });

  it('HTML bodies: tags are dropped, entities decoded, a javascript: link becomes plain text', () => {
    const segments = fromHtml(
      '<p><strong>WhatsApp · received</strong></p><p>a &lt;b&gt; &amp; c<br>line 2 <a href="javascript:alert(1)">x</a> ' +
        '<a href="https://gw.example/media/1?exp=1&amp;sig=2">open</a><script>alert(1)</script></p>',
    );
    expect(segments[0]).toEqual({ t: 'b', v: 'WhatsApp · received' });
    expect(textOf(segments)).toBe('WhatsApp · received\na <b> & c\nline 2 x openalert(1)');
    expect(segments.filter((s) => s.t === 'link')).toEqual([
      { t: 'link', v: 'open', href: 'https://gw.example/media/1?exp=1&sig=2' },
    ]);
  });

  it('card markdown: escapes removed, bold and links kept', () => {
    expect(fromCardMarkdown('Sent by **Grace** \\(via slack\\) [map](https://maps.example/?q=1)')).toEqual([
      { t: 'text', v: 'Sent by ' },
      { t: 'b', v: 'Grace' },
      { t: 'text', v: ' (via slack) ' },
      { t: 'link', v: 'map', href: 'https://maps.example/?q=1' },
    ]);
  });

  it('WhatsApp text keeps what the customer typed, including angle brackets', () => {
    expect(textOf(fromWhatsAppText('<b>hi</b> & *bye*'))).toBe('<b>hi</b> & bye');
  });

  it('reaction names become emoji; an emoji reaction type stays itself', () => {
    expect(emojiFor('+1')).toBe('👍');
    expect(emojiFor('white_check_mark')).toBe('✅');
    expect(emojiFor('✔️')).toBe('✔️');
    expect(emojiFor('unknown_thing')).toBe(':unknown_thing:');
  });
});
