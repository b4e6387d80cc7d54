import type { HubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { createTestBridge, type TestBridge } from '@wabridge/whatsapp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { hubspotConnector } from '../src/index.ts';
import { PORTAL_ID, startHubSpot } from './kit.ts';

describe('hubspot connector test (account info and a contact read over HTTP)', () => {
  let hubspot: HubSpotEmulator | null = null;
  let bridge: TestBridge | null = null;
  afterEach(async () => {
    await bridge?.close();
    await hubspot?.close();
    bridge = null;
    hubspot = null;
  });

  async function start(change: (config: Record<string, unknown>) => Record<string, unknown> = (c) => c) {
    const started = await startHubSpot();
    hubspot = started.hubspot;
    bridge = await createTestBridge({
      manifests: [hubspotConnector],
      connectors: { hubspot: change({ ...started.config }) },
    });
    return bridge;
  }

  it('names the portal the token belongs to and that contacts can be read', async () => {
    const current = await start();
    const report = await current.host.test(current.workspaceId, 'hubspot');
    expect(report).toMatchObject({ ok: true });
    expect(report.checks).toEqual([
      { name: 'token', ok: true, detail: `portal ${PORTAL_ID} (standard), time zone US/Eastern` },
      { name: 'contacts', ok: true, detail: 'readable' },
    ]);
  });

  it('names a refused token, and a token of another portal, with what to set', async () => {
    const refused = await start((c) => ({ ...c, accessToken: 'pat-na1-revoked' }));
    expect((await refused.host.test(refused.workspaceId, 'hubspot')).checks).toEqual([
      {
        name: 'token',
        ok: false,
        detail:
          'HubSpot refused the access token (401): set accessToken to the private app access token (Auth tab, pat-…)',
      },
    ]);
    await refused.admin.setConnector('test', refused.workspaceId, 'hubspot', {
      config: { accessToken: hubspot?.accessToken, portalId: '999' },
    });
    expect((await refused.host.test(refused.workspaceId, 'hubspot')).checks[0]?.detail).toBe(
      `the access token belongs to portal ${PORTAL_ID}, not the configured 999: set portalId to ${PORTAL_ID}, or use a token of portal 999`,
    );
  });

  it('without a portal id, suggests the one the token belongs to', async () => {
    const current = await start(({ portalId: _, ...rest }) => rest);
    const [token] = (await current.host.test(current.workspaceId, 'hubspot')).checks;
    expect(token).toMatchObject({
      ok: true,
      detail: expect.stringContaining(`set portalId to ${PORTAL_ID}`),
    });
  });
});
