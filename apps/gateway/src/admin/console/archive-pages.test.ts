import { identity, inboundMessage, messagesUnit } from '@wabridge/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/harness.ts';
import { createTestAccount, TEST_PASSWORD, TEST_SCRYPT } from '../testing.ts';

/**
 * The archive pages through the whole app (session, CSRF, roles): a compliance officer places a
 * hold, sees the erasure it covers refused with its sentence, releases it, erases and reads the
 * certificate; retention rules and a dry run; a contact's export as a download.
 */
const START = Date.parse('2026-06-01T12:00:00Z');
let t: Awaited<ReturnType<typeof createTestApp>>;
let cookie = '';
const W = '/admin/workspaces/acme/archive';

const get = (path: string) => t.app.request(path, { headers: { cookie } });
async function post(path: string, form: Record<string, string>) {
  const page = await (await get(`${W}/holds`)).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  return t.app.request(path, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form, _csrf: csrf }),
  });
}

beforeAll(async () => {
  t = await createTestApp({ now: () => START, access: { scrypt: TEST_SCRYPT } });
  await createTestAccount(t.runtime, { email: 'cora@example.com', role: 'compliance', workspaceId: 'acme' });
  const answer = await t.app.request('/admin/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email: 'cora@example.com', password: TEST_PASSWORD }),
  });
  cookie = (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  await t.runtime.store.ingest(
    messagesUnit(
      'acme',
      {
        messages: [
          inboundMessage({
            wamid: 'w-ada',
            contact: identity({ waId: '15550001111', profileName: 'Ada' }),
            timestamp: START - 86_400_000,
            text: 'hello',
          }),
        ],
      },
      START,
    ),
  );
}, 60_000);
afterAll(() => t.close());

describe('archive pages of the console', () => {
  it('hold, refused erasure with its sentence, release, erasure and certificate', async () => {
    const empty = await post(`${W}/holds`, { scope: 'contact', contact: '', reason: '' });
    expect(empty.status).toBe(400);
    const emptyPage = await empty.text();
    expect(emptyPage).toContain('id="f-contact-error"');
    expect(emptyPage).toContain('id="f-reason-error"');
    expect(await t.runtime.store.listHolds('acme')).toEqual([]);

    const placed = await post(`${W}/holds`, {
      scope: 'contact',
      contact: '+15550001111',
      reason: 'FINRA <exam> 7',
    });
    expect(placed.status).toBe(303);
    expect(placed.headers.get('location')).toBe(`${W}/holds?done=hold-added`);
    const list = await (await get(`${W}/holds?done=hold-added`)).text();
    expect(list).toContain('Legal hold placed.');
    expect(list).toContain('FINRA &lt;exam&gt; 7');
    const [hold] = await t.runtime.store.listHolds('acme');
    expect(hold?.createdBy).toBe('account:cora@example.com');

    const unconfirmed = await post(`${W}/erasures`, { contact: '15550001111', reason: 'request #12' });
    expect(unconfirmed.status).toBe(400);
    expect(await unconfirmed.text()).toContain(
      'Confirm that you have checked the request: nothing was erased.',
    );

    const refused = await post(`${W}/erasures`, {
      contact: '15550001111',
      reason: 'request #12',
      confirm: 'yes',
    });
    expect(refused.status).toBe(409);
    const refusedPage = await refused.text();
    expect(refusedPage).toContain(`erasure refused: legal hold ${hold?.id}`);
    expect(refusedPage).toContain('Nothing was changed');
    expect((await t.runtime.store.getMessageByWamid('acme', 'w-ada'))?.text).toBe('hello');

    const released = await post(`${W}/holds/${hold?.id}/release`, { reason: 'matter closed' });
    expect(released.status).toBe(303);
    expect((await t.runtime.store.listHolds('acme'))[0]?.released?.reason).toBe('matter closed');

    const erased = await post(`${W}/erasures`, {
      contact: '15550001111',
      reason: 'request #12',
      confirm: 'yes',
    });
    expect(erased.status).toBe(303);
    const location = erased.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^${W}/erasures/[^?]+\\?done=erased$`));
    const certificate = await (await get(location)).text();
    expect(certificate).toContain('Erasure done: this is its certificate.');
    expect(certificate).toContain('<strong>Erased.</strong>');
    expect((await t.runtime.store.getMessageByWamid('acme', 'w-ada'))?.text).toBeNull();
    expect(await (await get(`${W}/erasures`)).text()).toContain('request #12');
  });

  it('retention: a wrong number is marked on its field; a rule is saved and the dry run counts what is due', async () => {
    const wrong = await post(`${W}/retention/messages`, { keepDays: 'six years', afterLastMessageDays: '' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('id="f-messages-keepDays-error"');
    expect(await t.runtime.store.listRetention('acme')).toEqual([]);
    const saved = await post(`${W}/retention/statuses`, { keepDays: '', afterLastMessageDays: '30' });
    expect(saved.status).toBe(303);
    const page = await (await get(`${W}/retention?dry-run=1`)).text();
    expect(page).toContain('delete 30 days after the conversation');
    expect(page).toContain('data-testid="dry-run"');
  });

  it('export: an unknown contact is a field error; a known one downloads a ZIP', async () => {
    await t.runtime.store.ingest(
      messagesUnit(
        'acme',
        {
          messages: [
            inboundMessage({ wamid: 'w-bo', contact: identity({ waId: '15550002222' }), timestamp: START }),
          ],
        },
        START,
      ),
    );
    const unknown = await post(`${W}/export`, { contact: '15559999999' });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('has no contact with the number or BSUID');
    const download = await post(`${W}/export`, { contact: '15550002222' });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/zip');
    expect(
      Buffer.from(await download.arrayBuffer())
        .subarray(0, 2)
        .toString(),
    ).toBe('PK');
  });
});
