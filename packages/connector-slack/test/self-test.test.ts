import type { SlackEmulator } from '@wabridge/sandbox/slack';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { slackConnector } from '../src/index.ts';
import { SUPPORT, startSlack } from './kit.ts';

describe('slack connector test (auth.test and conversations.info over HTTP)', () => {
  let slack: SlackEmulator | null = null;
  let bridge: TestBridge | null = null;
  afterEach(async () => {
    await bridge?.close();
    await slack?.close();
    bridge = null;
    slack = null;
  });

  async function start(config: Record<string, unknown> = {}) {
    const started = await startSlack({}, config);
    slack = started.slack;
    bridge = await createTestBridge({ manifests: [slackConnector], connectors: { slack: started.config } });
    return bridge;
  }

  it('says whose the token is and that the app is in each channel', async () => {
    const current = await start({ routes: [{ tag: 'vip', channel: SUPPORT }] });
    const report = await current.host.test(current.workspaceId, 'slack');
    expect(report).toMatchObject({ ok: true, enabled: true });
    expect(report.checks).toEqual([
      {
        name: 'token',
        ok: true,
        detail: 'bot @wabridge (U0WABRIDGEBOT) in team wabridge-sandbox (T0WABRIDGE)',
      },
      { name: `channel ${SUPPORT}`, ok: true, detail: '#support, the app is a member' },
    ]);
  });

  it('names a refused token and what to set instead, and checks no channel with it', async () => {
    const current = await start();
    await current.admin.setConnector('test', current.workspaceId, 'slack', {
      config: { botToken: 'xoxb-revoked' },
    });
    const report = await current.host.test(current.workspaceId, 'slack');
    expect(report.ok).toBe(false);
    expect(report.checks).toEqual([
      {
        name: 'token',
        ok: false,
        detail: expect.stringContaining(
          'Slack refused the bot token (invalid_auth): set botToken to the Bot User OAuth Token',
        ),
      },
    ]);
  });

  it('names a token of another team, and a channel Slack does not know', async () => {
    const other = await start({ teamId: 'T0OTHER' });
    expect((await other.host.test(other.workspaceId, 'slack')).checks[0]?.detail).toMatch(
      /belongs to team .*\(T0WABRIDGE\), not the configured T0OTHER: set teamId to T0WABRIDGE/,
    );
    await other.admin.setConnector('test', other.workspaceId, 'slack', {
      config: { teamId: 'T0WABRIDGE', defaultChannel: 'C0NOPE' },
    });
    const report = await other.host.test(other.workspaceId, 'slack');
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['token', true],
      ['channel C0NOPE', false],
    ]);
    expect(report.checks[1]?.detail).toContain('channel_not_found');
  });

  it('says where Slack could not be reached', async () => {
    const current = await start();
    await slack?.close();
    slack = null;
    const report = await current.host.test(current.workspaceId, 'slack');
    expect(report.checks[0]).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^could not reach Slack at http/),
    });
  });
});
