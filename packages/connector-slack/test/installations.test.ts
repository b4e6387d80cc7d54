import type { CommandOutcome } from '@wabridge/core';
import { startWebhookRecorder } from '@wabridge/sandbox';
import { type SlackEmulator, startSlackEmulator } from '@wabridge/sandbox/slack';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRef, slackConnector } from '../src/index.ts';

/**
 * Installations as Slack makes them, with callbacks the Slack emulator signs and posts over HTTP
 * to the connector's inbound handler (as the gateway's hooks route hands them over): an
 * Enterprise Grid org-wide install serving two workspaces, and an uninstall.
 */
const SIGNING_SECRET = 'installations-signing-secret';

interface Setup {
  slack: SlackEmulator;
  bridge: TestBridge;
  /** Outcomes of the commands of every callback, in arrival order. */
  outcomes: CommandOutcome[];
  close(): Promise<void>;
}

let setup: Setup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** The emulator, a bridge with `config(slack)`, and Slack's callbacks wired to the bridge. */
async function start(
  emulator: Parameters<typeof startSlackEmulator>[0],
  config: (slack: SlackEmulator) => Record<string, unknown>,
): Promise<Setup> {
  const slack = await startSlackEmulator(emulator);
  const outcomes: CommandOutcome[] = [];
  let bridge: TestBridge | undefined;
  const hook = await startWebhookRecorder({
    respond: async (request) => {
      if (!bridge) return 503;
      const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
      if (!instance?.inbound) return 404;
      const result = await instance.inbound.handle(
        new Request(`http://gateway.test${request.path}`, {
          method: request.method,
          headers: request.headers,
          body: new Uint8Array(request.bytes),
        }),
        {
          path: (request.path.split('?')[0] ?? '').replace(/^\/hooks\/slack\/[^/]+/, ''),
          rawBody: request.bytes,
          findRefByExternalId: (kind, id) =>
            bridge!.store.findRefByExternalId(bridge!.workspaceId, 'slack', kind, id),
        },
      );
      if (result.commands.length > 0)
        outcomes.push(...(await bridge.commands.accept(bridge.workspaceId, 'slack', result.commands)));
      return result.response;
    },
  });
  slack.setCallbackUrls(`${hook.url}/hooks/slack/ws-test`);
  bridge = await createTestBridge({ manifests: [slackConnector], connectors: { slack: config(slack) } });
  const ready = bridge;
  return {
    slack,
    bridge: ready,
    outcomes,
    async close() {
      await ready.close();
      await slack.close();
      await hook.close();
    },
  };
}

/** The Slack thread (channel, root ts) of a customer's conversation. */
async function threadOf(s: Setup, waId: string) {
  const conversation = await s.bridge.conversationOf(waId);
  const ref = await s.bridge.store.getRef(
    s.bridge.workspaceId,
    'slack',
    'conversation',
    conversation?.id ?? '',
  );
  const root = parseRef(ref?.externalId);
  if (!root) throw new Error(`no Slack thread for ${waId}`);
  return { channel: root.channel, threadTs: root.ts };
}

describe('an Enterprise Grid org-wide install', () => {
  const grid = {
    signingSecret: SIGNING_SECRET,
    // The default workspace is in the organization; the app is not installed anywhere yet.
    teamId: 'T0BRIDGE',
    teamName: 'Bridge',
    enterpriseId: 'E0STARSHIP',
    channels: [{ id: 'C0BRIDGE1', name: 'bridge' }],
    enterprises: [{ id: 'E0STARSHIP', name: 'Starship' }],
    workspaces: [
      {
        id: 'T0ENGINE',
        name: 'Engineering',
        enterpriseId: 'E0STARSHIP',
        channels: [{ id: 'C0ENGINE1', name: 'engine' }],
      },
      { id: 'T0ELSEWHERE', name: 'Elsewhere', channels: [{ id: 'C0ELSE01', name: 'else' }] },
    ],
    echoBotMessages: false,
  };

  it('mirrors conversations into two of its workspaces and takes the agents’ replies from both', async () => {
    let orgToken = '';
    setup = await start(grid, (slack) => {
      orgToken = slack.install({ enterpriseId: 'E0STARSHIP' }).botToken;
      return {
        botToken: orgToken,
        signingSecret: SIGNING_SECRET,
        enterpriseId: 'E0STARSHIP',
        appId: slack.appId,
        defaultChannel: 'C0BRIDGE1',
        // Customers of France go to the Engineering workspace's channel.
        routes: [{ channel: 'C0ENGINE1', customerPrefix: '33' }],
        slackApiUrl: slack.apiUrl,
        postsPerSecondPerChannel: 100,
      };
    });
    const { slack, bridge } = setup;
    expect(slack.installations()).toMatchObject([{ enterpriseId: 'E0STARSHIP', isEnterpriseInstall: true }]);
    await bridge.customerText('Hello from London', { waId: '447700900501' });
    await bridge.customerText('Bonjour de Paris', { waId: '33612345678' });
    await bridge.worker.drain();
    const london = await threadOf(setup, '447700900501');
    const paris = await threadOf(setup, '33612345678');
    // One org token posted in both workspaces.
    expect([london.channel, paris.channel]).toEqual(['C0BRIDGE1', 'C0ENGINE1']);
    expect(slack.thread(london.channel, london.threadTs).map((m) => m.text)).toContain('Hello from London');
    expect(slack.thread(paris.channel, paris.threadTs).map((m) => m.text)).toContain('Bonjour de Paris');

    // Agents of each workspace answer in their thread; Slack signs both events for the org install.
    const grace = slack.agent({ id: 'W0GRACE', name: 'Grace' });
    const scotty = slack.agent({ id: 'W0SCOTTY', name: 'Scotty' });
    const fromBridge = await grace.reply(london, 'Your parcel leaves today');
    const fromEngine = await scotty.reply(paris, 'Votre colis part demain');
    await fromBridge.callback.settled;
    await fromEngine.callback.settled;
    await slack.idle();
    const attempts = slack.ledger.filter(
      'callback.attempt',
      (e) => e.id === fromBridge.eventId || e.id === fromEngine.eventId,
    );
    expect(attempts.map((a) => a.status)).toEqual([200, 200]);
    // Both replies became messages to their customers.
    expect(setup.outcomes.map((o) => o.status)).toEqual(['sent', 'sent']);
  });

  it('ignores events of a workspace outside its organization', async () => {
    setup = await start(grid, (slack) => ({
      botToken: slack.install({ enterpriseId: 'E0STARSHIP' }).botToken,
      signingSecret: SIGNING_SECRET,
      enterpriseId: 'E0STARSHIP',
      appId: slack.appId,
      defaultChannel: 'C0BRIDGE1',
      slackApiUrl: slack.apiUrl,
    }));
    const { slack, bridge } = setup;
    await bridge.customerText('Hello', { waId: '447700900502' });
    await bridge.worker.drain();
    // The same app installed on its own in a workspace outside the organization: its events are
    // signed with the same secret and reach the same URL, and are not this installation's (a thread
    // reply of this installation's would be a command, answered as `ignored` for an unknown thread).
    slack.install({ teamId: 'T0ELSEWHERE' });
    const someone = slack.agent({ id: 'U0STRANGER', name: 'Stranger' });
    const root = await someone.post('C0ELSE01', 'a thread of theirs');
    await root.callback.settled;
    const stranger = await someone.reply({ channel: 'C0ELSE01', threadTs: root.ts }, 'not for you');
    await stranger.callback.settled;
    expect(
      slack.ledger.filter('callback.attempt', (e) => e.id === stranger.eventId).map((a) => a.status),
    ).toEqual([200]);
    expect(setup.outcomes).toEqual([]);
  });
});

describe('uninstall and token revocation', () => {
  it('an uninstall is recorded and audited once; deliveries then dead-letter saying to reinstall, and the self-test says so', async () => {
    setup = await start(
      {
        signingSecret: SIGNING_SECRET,
        botToken: 'xoxb-uninstall-test',
        teamId: 'T0ACME',
        echoBotMessages: false,
      },
      (slack) => ({
        botToken: 'xoxb-uninstall-test',
        signingSecret: SIGNING_SECRET,
        teamId: 'T0ACME',
        appId: slack.appId,
        defaultChannel: 'C0SUPPORT01',
        slackApiUrl: slack.apiUrl,
      }),
    );
    const { slack, bridge } = setup;
    await bridge.customerText('before', { waId: '447700900601' });
    await bridge.worker.drain();
    expect(slack.history('C0SUPPORT01')).toHaveLength(1);

    // An admin removes the app: Slack revokes the tokens and sends tokens_revoked, then app_uninstalled.
    slack.uninstall({ teamId: 'T0ACME' });
    await slack.idle();
    const lifecycle = slack.ledger.filter('callback.attempt', (e) => e.channel === 'event');
    expect(lifecycle.map((a) => a.status)).toEqual([200, 200]);
    const audit = bridge.store.db.all<{ actor: string; action: string; details: string }>(
      "SELECT actor, action, details FROM audit_log WHERE action LIKE 'slack.%' ORDER BY id",
    );
    expect(audit.map((a) => [a.actor, a.action])).toEqual([
      ['connector:slack', 'slack.token_revoked'],
      ['connector:slack', 'slack.uninstalled'],
    ]);
    expect(JSON.parse(audit[0]?.details ?? '{}')).toMatchObject({ teamId: 'T0ACME', connectorId: 'slack' });

    // The next delivery fails at once (no attempt burnt on Slack), dead-lettered with the reason.
    const calls = slack.ledger.filter('api.call').length;
    await bridge.customerText('after', { waId: '447700900601' });
    await bridge.worker.drain();
    expect(slack.ledger.filter('api.call').length).toBe(calls);
    const dead = await bridge.store.listDeadJobs({ workspaceId: bridge.workspaceId, connectorId: 'slack' });
    expect(dead).toHaveLength(1);
    expect(dead[0]?.reason).toMatch(
      /^auth_failed: the Slack app was uninstalled from the Slack workspace T0ACME at .*: install it again/,
    );
    const instance = await bridge.host.instance(bridge.workspaceId, 'slack');
    // Maintenance no longer calls Slack with the dead token.
    await instance!.maintain!();
    expect(slack.ledger.filter('api.call').length).toBe(calls);
    const checks = await instance!.test!(AbortSignal.timeout(5000));
    expect(checks).toMatchObject([{ name: 'installation', ok: false }]);
    expect(checks[0]?.detail).toContain('uninstalled from the Slack workspace T0ACME');
  });

  it('a reinstall (a new bot token) delivers again', async () => {
    setup = await start(
      {
        signingSecret: SIGNING_SECRET,
        botToken: 'xoxb-first-install',
        teamId: 'T0ACME',
        echoBotMessages: false,
      },
      (slack) => ({
        botToken: 'xoxb-first-install',
        signingSecret: SIGNING_SECRET,
        teamId: 'T0ACME',
        appId: slack.appId,
        defaultChannel: 'C0SUPPORT01',
        slackApiUrl: slack.apiUrl,
      }),
    );
    const { slack, bridge } = setup;
    slack.uninstall({ teamId: 'T0ACME' });
    await slack.idle();
    const { botToken } = slack.install({ teamId: 'T0ACME' });
    const admin = bridge.admin;
    await admin.setConnector('test', bridge.workspaceId, 'slack', { config: { botToken } });
    await bridge.customerText('after the reinstall', { waId: '447700900602' });
    await bridge.worker.drain();
    expect(slack.history('C0SUPPORT01')).toHaveLength(1);
    expect(await bridge.store.listDeadJobs({ workspaceId: bridge.workspaceId })).toEqual([]);
  });
});
