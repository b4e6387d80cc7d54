/**
 * Server-side HTML with escaping by default: every value put into an `html` template is escaped
 * unless it is itself an `Html` (a nested template or `trusted(...)`). Arrays are joined; null,
 * undefined and false render nothing, so `${cond && html`…`}` works.
 *
 * @example html`<p>${name}</p>` // name "<b>" renders as &lt;b&gt;
 */
export class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Markup that is ours (constants), not data. Never pass anything a user typed. */
export function trusted(markup: string): Html {
  return new Html(markup);
}
