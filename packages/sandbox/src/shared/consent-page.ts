/**
 * The consent pages of the emulated platforms ("Add to Slack", HubSpot's "Choose an account",
 * Microsoft's "Pick an account / Permissions requested"): server-rendered HTML that works without
 * JavaScript, one `<form method="post">` with a picker (radio buttons in a fieldset), the requested
 * permissions, and "Allow"/"Cancel" submit buttons. The request's parameters stay on the server;
 * the form carries only the unguessable id of the pending consent (see `PendingConsents`).
 *
 * Headers: a strict CSP (no scripts at all; the one inline stylesheet allowed by its hash;
 * `form-action` limited to the emulator and the client's redirect origin, since browsers apply it
 * to the redirect that follows the POST), `frame-ancestors 'none'` against clickjacking, nosniff,
 * no caching.
 *
 * The markup is deliberately regular (one form, hidden inputs, radios with labels), so that
 * `completeConsent` (consent-client.ts) can drive it over plain HTTP like a browser with JS off.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from './html.ts';

export interface ConsentOption {
  value: string;
  label: string;
  /** A second line under the label (e.g. a workspace's domain, an account's e-mail). */
  detail?: string;
  selected?: boolean;
}

export interface ConsentPage {
  /** Which platform's page this is (sets the accent colour and the page's product name). */
  platform: 'slack' | 'hubspot' | 'microsoft';
  /** `<h1>`, e.g. "wabridge is requesting permission to access a Slack workspace". */
  heading: string;
  /** Where the form posts (a path on the emulator). */
  action: string;
  /** Hidden fields (the pending consent id). */
  hidden: Record<string, string>;
  /** The account/workspace/portal choice; omitted when there is nothing to choose. */
  picker?: { name: string; legend: string; options: ConsentOption[] };
  /** What the app will be able to do. */
  permissions: { title: string; items: string[] }[];
  /** "Signed in as …" line, if the platform shows one. */
  signedInAs?: string;
  allowLabel: string;
  cancelLabel: string;
  /** An extra paragraph (e.g. "Installing on the whole organization …"). */
  note?: string;
  /** Origin the redirect after the POST goes to (allowed in `form-action`). */
  redirectOrigin?: string;
}

const ACCENT: Record<ConsentPage['platform'], { product: string; colour: string }> = {
  slack: { product: 'Slack', colour: '#4a154b' },
  // A darker HubSpot orange than the brand's, so white button text keeps a 4.5:1 contrast.
  hubspot: { product: 'HubSpot', colour: '#c2410c' },
  microsoft: { product: 'Microsoft', colour: '#0067b8' },
};

const BASE_STYLE = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0; background: #f4f4f5; color: #1d1c1d; }
main { max-width: 34rem; margin: 3rem auto; background: #fff; border-radius: 12px; padding: 2rem;
  box-shadow: 0 1px 3px rgb(0 0 0 / 12%); }
header { border-top: 6px solid var(--accent); margin: -2rem -2rem 1.5rem; border-radius: 12px 12px 0 0; }
.product { font-weight: 700; color: var(--accent); margin: 1rem 0 0.5rem; letter-spacing: 0.02em; }
h1 { font-size: 1.35rem; line-height: 1.3; margin: 0 0 1rem; }
h2 { font-size: 1rem; margin: 1.5rem 0 0.5rem; }
fieldset { border: 1px solid #d1d1d6; border-radius: 8px; padding: 0.75rem 1rem; margin: 0; }
legend { font-weight: 600; padding: 0 0.25rem; }
.option { display: flex; gap: 0.6rem; align-items: flex-start; padding: 0.4rem 0; }
.option input { margin-top: 0.25rem; width: 1.1rem; height: 1.1rem; }
.detail { display: block; color: #616061; font-size: 0.9rem; }
ul { padding-left: 1.25rem; margin: 0.25rem 0; }
li { margin: 0.2rem 0; }
.note { background: #fff8e1; border-left: 4px solid #f2c744; padding: 0.6rem 0.8rem; border-radius: 4px; }
.signed-in { color: #616061; font-size: 0.9rem; }
.actions { display: flex; gap: 0.75rem; justify-content: flex-end; margin-top: 1.75rem; }
button { font: inherit; font-weight: 600; padding: 0.6rem 1.3rem; border-radius: 6px; cursor: pointer; border: 1px solid #b5b5bb; background: #fff; color: #1d1c1d; }
button.allow { background: var(--accent); border-color: var(--accent); color: #fff; }
button:focus-visible, input:focus-visible { outline: 3px solid #1264a3; outline-offset: 2px; }
`.trim();

/** The stylesheet of a platform's pages: the base rules with its accent colour (no inline `style=`, which CSP would block). */
const styleOf = (platform: ConsentPage['platform']) =>
  `:root { --accent: ${ACCENT[platform].colour}; }\n${BASE_STYLE}`;
const styleHash = (platform: ConsentPage['platform']) =>
  `'sha256-${createHash('sha256').update(styleOf(platform)).digest('base64')}'`;

function headers(
  platform: ConsentPage['platform'],
  redirectOrigin: string | undefined,
): Record<string, string> {
  const formAction = ["'self'", ...(redirectOrigin ? [redirectOrigin] : [])].join(' ');
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; style-src ${styleHash(platform)}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

function document(platform: ConsentPage['platform'], title: string, body: string): string {
  const accent = ACCENT[platform];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} | ${accent.product} (sandbox)</title>
<style>${styleOf(platform)}</style>
</head>
<body>
<main>
<header><p class="product">${accent.product} <span class="detail">sandbox emulator</span></p></header>
${body}
</main>
</body>
</html>`;
}

/** The consent page as a `Response` (200, HTML, strict headers). */
export function consentPageResponse(page: ConsentPage): Response {
  const hidden = Object.entries(page.hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const picker = page.picker
    ? `<fieldset>
<legend>${escapeHtml(page.picker.legend)}</legend>
${page.picker.options
  .map((option, index) => {
    const id = `choice-${index}`;
    const checked = option.selected || (index === 0 && !page.picker?.options.some((o) => o.selected));
    return `<div class="option"><input type="radio" id="${id}" name="${escapeHtml(page.picker?.name ?? '')}" value="${escapeHtml(option.value)}"${checked ? ' checked' : ''} required>
<label for="${id}">${escapeHtml(option.label)}${option.detail ? `<span class="detail">${escapeHtml(option.detail)}</span>` : ''}</label></div>`;
  })
  .join('\n')}
</fieldset>`
    : '';
  const permissions = page.permissions
    .filter((group) => group.items.length > 0)
    .map(
      (group) =>
        `<h2>${escapeHtml(group.title)}</h2>\n<ul>${group.items.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`,
    )
    .join('\n');
  const body = `<h1>${escapeHtml(page.heading)}</h1>
${page.signedInAs ? `<p class="signed-in">Signed in as ${escapeHtml(page.signedInAs)}</p>` : ''}
<form method="post" action="${escapeHtml(page.action)}">
${hidden}
${picker}
${permissions}
${page.note ? `<p class="note">${escapeHtml(page.note)}</p>` : ''}
<div class="actions">
<button type="submit" name="decision" value="cancel" formnovalidate>${escapeHtml(page.cancelLabel)}</button>
<button type="submit" name="decision" value="allow" class="allow">${escapeHtml(page.allowLabel)}</button>
</div>
</form>`;
  return new Response(document(page.platform, page.heading, body), {
    status: 200,
    headers: headers(page.platform, page.redirectOrigin),
  });
}

/**
 * The page a platform shows when the authorization request itself is bad (unknown client, redirect
 * URI not registered…): the user is *not* sent back to an unverified redirect URI (RFC 6749 §4.1.2.1).
 */
export function consentErrorResponse(
  platform: ConsentPage['platform'],
  input: { title: string; message: string; code?: string; status?: number },
): Response {
  const body = `<h1>${escapeHtml(input.title)}</h1>
<p role="alert">${escapeHtml(input.message)}</p>
${input.code ? `<p class="detail">Error: <code>${escapeHtml(input.code)}</code></p>` : ''}`;
  return new Response(document(platform, input.title, body), {
    status: input.status ?? 400,
    headers: headers(platform, undefined),
  });
}
