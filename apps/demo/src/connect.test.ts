import { completeConsent } from '@wabridge/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, type DemoStack, startDemoStack } from './stack.ts';

/**
 * `npm run demo` offers the click path for Slack, HubSpot and Teams: the links it prints go through
 * the emulators' consent pages (answered here over HTTP, as a browser would) and connect the demo
 * workspace again, after which the demo still mirrors WhatsApp into each.
 */
let stack: DemoStack;

beforeAll(async () => {
  stack = await startDemoStack({ logLevel: 'warn' });
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

/** Opens a connect link, answers the consent page, and returns the page back at the gateway. */
async function connect(
  link: string,
  choose?: string,
): Promise<{ html: string; cookie: string; status: number }> {
  const start = await fetch(link, { redirect: 'manual' });
  expect(start.status).toBe(302);
  const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const back = await completeConsent(start.headers.get('location') ?? '', choose ? { choose } : {});
  const answer = await fetch(back.location, { headers: { cookie } });
  return {
    html: await answer.text(),
    cookie: (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? cookie,
    status: answer.status,
  };
}

/** The demo workspace's Slack bot token as stored (decrypted with the gateway's own key). */
async function storedBotToken(): Promise<string | undefined> {
  const setting = await stack.runtime.store.getConnector('demo', 'slack');
  if (!setting?.encryptedSecrets) return undefined;
  return (JSON.parse(stack.runtime.secrets.decrypt(setting.encryptedSecrets)) as { botToken?: string })
    .botToken;
}

describe('the demo’s "connect by clicking" links', () => {
  it('HubSpot: the printed link installs the public app in the demo portal and the demo keeps mirroring there', async () => {
    const { html, status } = await connect(stack.connectLinks.hubspot, String(stack.hubspot.portalId));
    expect(status, html).toBe(200);
    expect(html).toContain('HubSpot connected');
    const described = await stack.runtime.admin.describeConnector('demo', 'hubspot');
    expect(described?.config).toMatchObject({
      refreshToken: '••••••',
      portalId: String(stack.hubspot.portalId),
    });
    expect(described?.config).not.toHaveProperty('accessToken');
    await stack.whatsapp
      .customer({ waId: '15550807001', name: 'Click Path' })
      .sendText('after Connect HubSpot');
    await stack.settle();
    const bodies = stack.hubspot
      .contacts()
      .flatMap((contact) => stack.hubspot.timeline(contact.id))
      .map((c) => c.properties.hs_communication_body ?? '');
    expect(bodies.filter((b) => b.includes('after Connect HubSpot'))).toHaveLength(1);
  }, 120_000);

  it('Teams: the printed link signs the service account in, the picker sets the channel, and the demo keeps mirroring', async () => {
    const { html, cookie, status } = await connect(stack.connectLinks.teams);
    expect(status, html).toBe(200);
    const form = /name="form" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const channel = /name="channel"[^>]*value="([^"]+)"/.exec(html)?.[1]?.replace(/&#124;/g, '|') ?? '';
    const done = await fetch(`${stack.gatewayUrl}/connect/teams/demo/pick`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ form, channel }).toString(),
    });
    const doneHtml = await done.text();
    expect(done.status, doneHtml).toBe(200);
    expect(doneHtml).toContain('Teams connected');
    expect((await stack.runtime.admin.describeConnector('demo', 'teams'))?.config).toMatchObject({
      refreshToken: '••••••',
      channelId: channel.split('|')[1],
    });
    await stack.whatsapp
      .customer({ waId: '15550807002', name: 'Click Path Two' })
      .sendText('after Connect Teams');
    await stack.settle();
    expect(stack.graph.ledger.count('message.created', (e) => e.text.includes('after Connect Teams'))).toBe(
      1,
    );
  }, 120_000);

  it('Slack: after the app was removed from the demo team, the printed "Add to Slack" link installs it again with a new bot token, and mirroring resumes', async () => {
    const oldToken = await storedBotToken();
    // Removed in Slack (app management page): the old token is revoked, Slack tells the gateway.
    stack.slack.uninstall({ teamId: stack.slack.teamId });
    await stack.slack.idle();
    expect(stack.slack.botToken).toBe('');
    const mark = stack.slack.ledger.mark();
    const { html, status } = await connect(stack.connectLinks.slack);
    expect(status, html).toBe(200);
    expect(stack.slack.ledger.since(mark).filter((e) => e.kind === 'install.created')).toEqual([
      expect.objectContaining({ teamId: stack.slack.teamId, reinstall: false }),
    ]);
    expect((await stack.runtime.admin.describeConnector('demo', 'slack'))?.config).toMatchObject({
      botToken: '••••••',
      teamId: stack.slack.teamId,
      defaultChannel: DEMO.slack.channel.id,
    });
    // Stored (encrypted) is the token the install issued, not the revoked one.
    const newToken = await storedBotToken();
    expect(newToken).toBe(stack.slack.botToken);
    expect(newToken).not.toBe(oldToken);
    await stack.whatsapp
      .customer({ waId: '15550807003', name: 'Click Path Three' })
      .sendText('after Add to Slack');
    await stack.settle();
    expect(
      stack.slack.ledger.count(
        'message.posted',
        (e) => e.bot && e.channel === DEMO.slack.channel.id && e.text.includes('after Add to Slack'),
      ),
    ).toBe(1);
  }, 120_000);
});
