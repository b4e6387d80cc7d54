/**
 * Drives an emulator's consent page over plain HTTP, the way a browser with JavaScript off would:
 * GET the authorization URL, read the one form on the page (its action, hidden fields and radio
 * choices), submit "Allow" or "Cancel" with the chosen option, and return where the platform
 * redirects. For headless tests and CLI flows; the Chromium test clicks the same page.
 *
 *   const { location } = await completeConsent(authorizeUrl, { choose: 'T0ACME' });
 *   location.searchParams.get('code');   // back at the client's redirect URI
 *
 * An authorization request the platform redirects at once (auto-consent, or an error sent back to
 * the client) resolves with that redirect without submitting anything.
 */
export interface ConsentChoice {
  /** Value or visible label of the option to pick (workspace id, portal id, account UPN…); default the pre-selected one. */
  choose?: string;
  /** Default `allow`. */
  decision?: 'allow' | 'cancel';
  /** Extra request headers (e.g. a cookie). */
  headers?: Record<string, string>;
}

export interface ConsentResult {
  /** The URL the platform redirected to (the client's redirect URI with `code`/`error` and `state`). */
  location: URL;
  /** The consent page's HTML, when one was shown. */
  page: string | undefined;
  /** The options the page offered, as `{ value, label }`. */
  options: { value: string; label: string }[];
}

export class ConsentPageError extends Error {
  override readonly name = 'ConsentPageError';
  readonly code = 'consent_failed';
  readonly retryable = false;
  readonly status: number;
  readonly page: string;

  constructor(message: string, status: number, page: string) {
    super(message);
    this.status = status;
    this.page = page;
  }
}

const decode = (text: string) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

const attribute = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return match?.[1] === undefined ? undefined : decode(match[1]);
};

/** Opens `authorizeUrl`, answers its consent page and returns the redirect back to the client. */
export async function completeConsent(
  authorizeUrl: string,
  choice: ConsentChoice = {},
): Promise<ConsentResult> {
  const first = await fetch(authorizeUrl, { redirect: 'manual', headers: choice.headers ?? {} });
  const redirected = first.headers.get('location');
  if (first.status >= 300 && first.status < 400 && redirected) {
    await first.body?.cancel();
    return { location: new URL(redirected, authorizeUrl), page: undefined, options: [] };
  }
  const page = await first.text();
  if (first.status !== 200) {
    const alert = /<p role="alert">([^<]*)<\/p>/.exec(page)?.[1];
    throw new ConsentPageError(
      `the authorization page answered ${first.status}: ${alert ? decode(alert) : page.slice(0, 200)}`,
      first.status,
      page,
    );
  }
  const form = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(page);
  if (!form?.[1] || form[2] === undefined)
    throw new ConsentPageError('no consent form on the page', 200, page);
  const fields = new URLSearchParams();
  for (const tag of form[2].match(/<input type="hidden"[^>]*>/g) ?? []) {
    const name = attribute(tag, 'name');
    if (name !== undefined) fields.set(name, attribute(tag, 'value') ?? '');
  }
  const options: { name: string; value: string; label: string; checked: boolean }[] = [];
  for (const match of form[2].matchAll(
    /<input type="radio" id="([^"]*)" name="([^"]*)" value="([^"]*)"([^>]*)>\s*<label for="\1">([^<]*)/g,
  )) {
    options.push({
      name: decode(match[2] ?? ''),
      value: decode(match[3] ?? ''),
      label: decode(match[5] ?? '').trim(),
      checked: (match[4] ?? '').includes('checked'),
    });
  }
  const decision = choice.decision ?? 'allow';
  if (options.length > 0 && decision === 'allow') {
    const picked =
      choice.choose === undefined
        ? (options.find((o) => o.checked) ?? options[0])
        : options.find((o) => o.value === choice.choose || o.label === choice.choose);
    if (!picked) {
      throw new ConsentPageError(
        `no option '${choice.choose}' on the consent page (offered: ${options.map((o) => `${o.value} "${o.label}"`).join(', ')})`,
        200,
        page,
      );
    }
    fields.set(picked.name, picked.value);
  }
  fields.set('decision', decision);
  const action = new URL(decode(form[1]), first.url || authorizeUrl);
  const second = await fetch(action, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(choice.headers ?? {}) },
    body: fields.toString(),
  });
  const location = second.headers.get('location');
  if (second.status < 300 || second.status >= 400 || !location) {
    const text = await second.text();
    const alert = /<p role="alert">([^<]*)<\/p>/.exec(text)?.[1];
    throw new ConsentPageError(
      `the consent form answered ${second.status}: ${alert ? decode(alert) : text.slice(0, 200)}`,
      second.status,
      text,
    );
  }
  await second.body?.cancel();
  return {
    location: new URL(location, action),
    page,
    options: options.map(({ value, label }) => ({ value, label })),
  };
}
