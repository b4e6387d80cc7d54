import { MEDIA_UNAVAILABLE_NOTE, toWabridgeError } from '@wabridge/core';
import { Hono } from 'hono';
import { errorResponse } from '../http.ts';
import type { Runtime } from '../runtime.ts';

/**
 * Signed, expiring links to WhatsApp media for platforms that show a link rather than a copy
 * (Teams, HubSpot). The signature binds workspace, message and expiry.
 *
 * People open these links in a browser, so a file that cannot be had is a short page, not JSON:
 * 404 when we know no such message or file, 410 when WhatsApp no longer has it (media ids from
 * webhooks expire after 7 days, https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media/).
 * Neither is an error of the gateway, so neither is logged as one.
 */
export function mediaRoutes(runtime: Runtime) {
  const app = new Hono();
  app.get('/:workspace/:message', async (c) => {
    const { workspace, message } = c.req.param();
    if (!runtime.media.verify(workspace, message, c.req.query('exp'), c.req.query('sig'))) {
      return errorResponse(403, 'link_invalid', 'this media link is invalid or has expired');
    }
    let media: Awaited<ReturnType<Runtime['media']['fetch']>>;
    try {
      media = await runtime.media.fetch(workspace, message);
    } catch (error) {
      const failure = toWabridgeError(error);
      if (failure.code === 'not_found' || failure.code === 'bad_request') {
        runtime.logger.info({ workspace, message, code: failure.code }, 'media link for an unknown file');
        return page(404, 'File not found', 'There is no file behind this link.');
      }
      if (!failure.retryable) {
        runtime.logger.info(
          { workspace, message, code: failure.code },
          'media no longer available at WhatsApp',
        );
        return page(410, 'File no longer available', MEDIA_UNAVAILABLE_NOTE);
      }
      // WhatsApp is unreachable or throttling: worth another try in a moment.
      runtime.logger.warn({ workspace, message, code: failure.code }, 'media download failed for now');
      return page(
        503,
        'File not available right now',
        'WhatsApp did not hand over this file just now. Try again in a minute.',
        {
          'retry-after': String(Math.max(1, Math.ceil((failure.retryAfterMs ?? 30_000) / 1000))),
        },
      );
    }
    const filename = media.filename.replace(/[^\w.-]/g, '_');
    return new Response(new Uint8Array(media.bytes), {
      headers: {
        'content-type': media.mimeType,
        'content-disposition': `inline; filename="${filename}"`,
        'cache-control': 'private, max-age=3600',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
      },
    });
  });
  return app;
}

/** A short page for a person who opened the link; fixed words only, nothing from the request. */
function page(status: number, title: string, text: string, headers: Record<string, string> = {}): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>
`;
  return new Response(html, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      ...headers,
    },
  });
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
