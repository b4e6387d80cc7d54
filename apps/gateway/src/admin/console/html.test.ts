import { describe, expect, it } from 'vitest';
import { html, trusted } from './html.ts';

describe('html templates', () => {
  it('escapes every interpolated string, including quotes inside attributes', () => {
    const name = `<script>alert("x")</script>'`;
    expect(html`<p title="${name}">${name}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;</p>',
    );
  });

  it('keeps nested templates and trusted markup, joins arrays, and renders nothing for null, undefined and false', () => {
    const items = ['a&b', 'c'].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${items}</ul>${null}${undefined}${false}${trusted('<hr>')}${0}`.value).toBe(
      '<ul><li>a&amp;b</li><li>c</li></ul><hr>0',
    );
  });
});
