import { describe, expect, it } from 'vitest';
import { escapeCardText, escapeHtml, splitForHtml, teamsHtmlToText, textToHtml } from './text.ts';

describe('escaping customer text', () => {
  it('leaves no markup in HTML', () => {
    expect(textToHtml('<img src=x onerror=alert(1)>\n"a" & \'b\'')).toBe(
      '&lt;img src=x onerror=alert(1)&gt;<br>&quot;a&quot; &amp; &#39;b&#39;',
    );
  });

  it('neutralises Adaptive Card markdown: emphasis, links, lists, headings and quotes', () => {
    expect(escapeCardText('*b* _i_ [x](http://e) `c` ~s~')).toBe(
      '\\*b\\* \\_i\\_ \\[x\\]\\(http://e\\) \\`c\\` \\~s\\~',
    );
    expect(escapeCardText('# title\n- item\n1. one\n> quote')).toBe(
      '\\# title\n\\- item\n1\\. one\n\\> quote',
    );
    expect(escapeCardText('+15550001111')).toBe('+15550001111');
  });
});

describe('agent messages from Teams', () => {
  it('become WhatsApp text with its formatting, links and emoji kept', () => {
    const html =
      '<p>Hi <strong>Ada</strong>, <em>thanks</em>!</p><p>See <a href="https://x.example/a?b=1&amp;c=2">the doc</a> <emoji id="smile" alt="🙂" title="Smile"></emoji></p><attachment id="1"></attachment>';
    expect(teamsHtmlToText(html)).toBe('Hi *Ada*, _thanks_!\nSee the doc (https://x.example/a?b=1&c=2) 🙂');
  });

  it('decode entities once and keep plain text as it is', () => {
    expect(teamsHtmlToText('&lt;b&gt; &amp;amp; &#128512;')).toBe('<b> &amp; 😀');
    expect(teamsHtmlToText('  <b>not html</b> ', 'text')).toBe('<b>not html</b>');
  });
});

describe('splitting long text', () => {
  it('cuts into pieces whose escaped size fits, at spaces, without splitting characters', () => {
    const text = `${'😀'.repeat(30)} ${'a&b '.repeat(200)}`;
    const pieces = splitForHtml(text, 256);
    expect(pieces.join('')).toBe(text);
    for (const piece of pieces) expect(Buffer.byteLength(escapeHtml(piece))).toBeLessThanOrEqual(256);
    expect(pieces.slice(0, -1).every((p) => p.endsWith(' '))).toBe(true);
  });
});
