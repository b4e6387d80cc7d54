import { type Html, html } from '../html.ts';
import { CONSOLE_BASE, notice, page } from '../layout.ts';

/** The sign-in form; works without JavaScript (a plain POST). */
export function signInPage(options: {
  error?: string;
  email?: string;
  next?: string | undefined;
  /** Where single sign-on starts, when an OpenID provider is configured. */
  sso?: string | undefined;
}): Html {
  return page({
    title: 'Sign in',
    viewer: null,
    section: 'sign-in',
    body: html`<div class="card signin">
<h1>Sign in</h1>
${notice(options.error, 'bad')}
<form method="post" action="${CONSOLE_BASE}/sign-in">
  ${options.next && html`<input type="hidden" name="next" value="${options.next}">`}
  <div class="field"><label for="email">Email</label>
    <input type="text" id="email" name="email" autocomplete="username" required value="${options.email ?? ''}"></div>
  <div class="field"><label for="password">Password</label>
    <input type="password" id="password" name="password" autocomplete="current-password" required></div>
  <button type="submit">Sign in</button>
</form>
${options.sso && html`<p class="or">or</p><p><a class="button secondary" href="${options.sso}">Sign in with single sign-on</a></p>`}
</div>`,
  });
}
