import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InboundMessage } from './payloads.ts';
import { OPERATIONS } from './spec.ts';
import { harness, PHONE, TOKEN } from './testing.ts';

const MINUTE = 60 * 1000;

function upload(url: string, bytes: Uint8Array, mimeType: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.set('messaging_product', 'whatsapp');
  form.set('type', mimeType);
  form.set('file', new Blob([new Uint8Array(bytes)], { type: mimeType }), 'photo.jpg');
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return fetch(`${url}/v23.0/${PHONE.phoneNumberId}/media`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: form,
  });
}

const download = (url: string, token: string | null = TOKEN) =>
  fetch(url, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });

describe('media', () => {
  it('uploads multipart media and serves it back through a retrieve URL that needs the bearer token', async () => {
    await using h = await harness();
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3, 4, 0xff, 0xd9]);
    const uploaded = await upload(h.wa.url, bytes, 'image/jpeg');
    expect(uploaded.status).toBe(200);
    const { id } = (await uploaded.json()) as { id: string };
    expect(id).toMatch(/^\d{16}$/);

    const info = await h.api(`/v23.0/${id}`);
    expect(info.json).toEqual({
      messaging_product: 'whatsapp',
      url: expect.stringContaining(`${h.wa.url}/whatsapp_business/attachments/?mid=${id}&ext=`),
      mime_type: 'image/jpeg',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      file_size: String(bytes.byteLength),
      id,
    });
    expect(
      h.wa.spec.validateResponseBody('GET', OPERATIONS.media, 200, 'application/json', info.json).ok,
    ).toBe(true);

    const unauthenticated = await download(info.json.url, null);
    expect(unauthenticated.status).toBe(401);
    const wrongToken = await download(info.json.url, 'nope');
    expect(wrongToken.status).toBe(401);
    const ok = await download(info.json.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/jpeg');
    expect(new Uint8Array(await ok.arrayBuffer())).toEqual(bytes);
    expect(h.wa.ledger.filter('media.download_refused').map((e) => e.reason)).toEqual([
      'unauthorized',
      'unauthorized',
    ]);
    expect(h.wa.ledger.count('media.downloaded')).toBe(1);
  });

  it('expires the URL after 5 minutes on the emulator clock; a new retrieve gives a working URL', async () => {
    await using h = await harness({ now: () => 1_780_000_000_000 });
    const { id } = (await (await upload(h.wa.url, new Uint8Array([1, 2, 3]), 'image/png')).json()) as {
      id: string;
    };
    const { url } = (await h.api(`/v23.0/${id}`)).json;
    h.wa.advanceTime(5 * MINUTE - 1);
    expect((await download(url)).status).toBe(200);
    h.wa.advanceTime(1);
    const expired = await download(url);
    expect(expired.status).toBe(404);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toBe(
      'URL signature expired',
    );
    expect(h.wa.ledger.last('media.download_refused')?.reason).toBe('expired');
    const fresh = (await h.api(`/v23.0/${id}`)).json.url;
    expect((await download(fresh)).status).toBe(200);
  });

  it('refuses a forged URL', async () => {
    await using h = await harness();
    const { id } = (await (await upload(h.wa.url, new Uint8Array([1]), 'image/png')).json()) as {
      id: string;
    };
    const { url } = (await h.api(`/v23.0/${id}`)).json;
    const forged = (url as string).replace(/ext=\d+/, 'ext=99999999999');
    expect((await download(forged)).status).toBe(404);
    expect(h.wa.ledger.last('media.download_refused')?.reason).toBe('bad_signature');
  });

  it('deletes media: retrieve and download stop working', async () => {
    await using h = await harness();
    const { id } = (await (await upload(h.wa.url, new Uint8Array([1]), 'image/png')).json()) as {
      id: string;
    };
    const { url } = (await h.api(`/v23.0/${id}`)).json;
    const deleted = await h.api(`/v23.0/${id}`, { method: 'DELETE' });
    expect(deleted.json).toEqual({ success: true });
    expect((await h.api(`/v23.0/${id}`)).json.error).toMatchObject({ code: 100, error_subcode: 33 });
    expect((await download(url)).status).toBe(404);
    expect((await h.api(`/v23.0/${id}`, { method: 'DELETE' })).status).toBe(400);
  });

  it('checks ownership when phone_number_id is given', async () => {
    await using h = await harness();
    const { id } = (await (await upload(h.wa.url, new Uint8Array([1]), 'image/png')).json()) as {
      id: string;
    };
    expect((await h.api(`/v23.0/${id}?phone_number_id=${PHONE.phoneNumberId}`)).status).toBe(200);
    expect((await h.api(`/v23.0/${id}?phone_number_id=123`)).json.error.code).toBe(100);
  });

  it('refuses uploads of unsupported types, without a file, or without messaging_product', async () => {
    await using h = await harness();
    const gif = await upload(h.wa.url, new Uint8Array([1]), 'image/gif');
    expect(gif.status).toBe(400);
    expect(
      ((await gif.json()) as { error: { error_data: { details: string } } }).error.error_data.details,
    ).toContain("'image/gif'");
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    const noFile = await fetch(`${h.wa.url}/v23.0/${PHONE.phoneNumberId}/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: form,
    });
    expect(noFile.status).toBe(400);
    const wrongProduct = await upload(h.wa.url, new Uint8Array([1]), 'image/png', {
      messaging_product: 'sms',
    });
    expect(wrongProduct.status).toBe(400);
    expect((await upload(h.wa.url, new Uint8Array(6_000_000), 'image/jpeg')).status).toBe(400);
  });

  it('makes media sent by a customer downloadable by the gateway, with the webhook sha256 matching the bytes', async () => {
    await using h = await harness();
    const bytes = new TextEncoder().encode('%PDF-1.4 invoice');
    await h.wa
      .customer({ waId: '16505551234', name: 'Alice' })
      .sendDocument({ bytes, mimeType: 'application/pdf', filename: 'invoice.pdf' });
    const message = h.payloads()[0]?.entry[0]?.changes[0]?.value.messages as InboundMessage[];
    const document = message[0]?.document as {
      id: string;
      sha256: string;
      filename: string;
      mime_type: string;
    };
    expect(document).toMatchObject({ filename: 'invoice.pdf', mime_type: 'application/pdf' });
    const { url } = (await h.api(`/v23.0/${document.id}`)).json;
    const downloaded = new Uint8Array(await (await download(url)).arrayBuffer());
    expect(downloaded).toEqual(bytes);
    expect(createHash('sha256').update(downloaded).digest('base64')).toBe(document.sha256);
    expect((await download(url)).headers.get('content-disposition')).toBe(
      'attachment; filename="invoice.pdf"',
    );
  });

  it('marks sends that reference uploaded media as known', async () => {
    await using h = await harness();
    const { id } = (await (await upload(h.wa.url, new Uint8Array([1]), 'image/png')).json()) as {
      id: string;
    };
    await h.send({
      messaging_product: 'whatsapp',
      to: '16505551234',
      type: 'template',
      template: { name: 'hello_world', language: { code: 'en_US' } },
    });
    await h.wa.customer({ waId: '16505551234', name: 'Alice' }).sendText('hi');
    await h.send({ messaging_product: 'whatsapp', to: '16505551234', type: 'image', image: { id } });
    expect(h.wa.ledger.last('send.accepted')?.media).toEqual({ id, known: true });
  });
});
