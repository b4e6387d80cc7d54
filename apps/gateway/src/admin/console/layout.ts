import { type Html, type HtmlValue, html } from './html.ts';
import type { Viewer } from './viewer.ts';

export const CONSOLE_BASE = '/admin';
export const CSS_PATH = `${CONSOLE_BASE}/assets/console.css`;
export const SCRIPT_PATH = `${CONSOLE_BASE}/assets/console.js`;

export interface PageOptions {
  title: string;
  viewer: Viewer | null;
  body: HtmlValue;
  /** The top-bar entry to mark as current. */
  section?: 'workspaces' | 'audit' | 'sign-in';
  /** The workspace the page is about, for the role badge. */
  workspaceId?: string;
}

/** The whole document: skip link, banner with navigation, one main landmark, a footer. */
export function page(options: PageOptions): Html {
  const { viewer } = options;
  const role = viewer && options.workspaceId ? viewer.roleIn(options.workspaceId) : null;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · wabridge admin</title>
<link rel="stylesheet" href="${CSS_PATH}">
<script src="${SCRIPT_PATH}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="topbar">
  <a class="brand" href="${CONSOLE_BASE}/workspaces"><span class="logo" aria-hidden="true">⇄</span> wabridge admin</a>
  ${
    viewer &&
    html`<nav aria-label="Console"><ul>
    <li><a href="${CONSOLE_BASE}/workspaces"${options.section === 'workspaces' ? html` aria-current="page"` : ''}>Workspaces</a></li>
    ${viewer.can('global.audit.read', null) && html`<li><a href="${CONSOLE_BASE}/audit"${options.section === 'audit' ? html` aria-current="page"` : ''}>Global audit trail</a></li>`}
  </ul></nav>
  <div class="who">
    <span>${viewer.label}</span>${role && html` <span class="role" title="Your role in this workspace">${role}</span>`}
    <form class="inline" method="post" action="${CONSOLE_BASE}/sign-out">
      <input type="hidden" name="_csrf" value="${viewer.csrfToken}">
      <button type="submit">Sign out</button>
    </form>
  </div>`
  }
</header>
<main id="main" tabindex="-1">
${options.body}
</main>
</body>
</html>`;
}

/** A hidden CSRF field for a form that changes something. */
export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="_csrf" value="${viewer.csrfToken}">`;
}

/** A success or failure line at the top of a page (after a redirect, from `?done=`/`?error=`). */
export function notice(text: string | undefined, kind: 'ok' | 'bad' = 'ok'): Html {
  if (!text) return html``;
  return html`<div class="notice${kind === 'bad' ? ' bad' : ''}" role="${kind === 'bad' ? 'alert' : 'status'}">${text}</div>`;
}

export function formatTime(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? '–' : date.toISOString().replace('T', ' ').slice(0, 19);
}
