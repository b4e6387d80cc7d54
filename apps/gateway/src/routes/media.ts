import { Hono } from 'hono';
import { errorResponse } from '../app.ts';
import type { Runtime } from '../runtime.ts';

/**
 * Signed, expiring links to WhatsApp media for platforms that show a link rather than a copy
 * (Teams, HubSpot). The signature binds workspace, message and expiry.
 */
export function mediaRoutes(runtime: Runtime) {
  const app = new Hono();
  app.get('/:workspace/:message', async (c) => {
    const { workspace, message } = c.req.param();
    if (!runtime.media.verify(workspace, message, c.req.query('exp'), c.req.query('sig'))) {
      return errorResponse(403, 'link_invalid', 'this media link is invalid or has expired');
    }
    const media = await runtime.media.fetch(workspace, message);
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
