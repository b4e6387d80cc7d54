import { memoryMetrics, silentLogger, WabridgeError } from '@wabridge/core';
import { createClock, wallClockFrom } from '@wabridge/sandbox';
import { afterEach, describe, expect, it } from 'vitest';
import { HubSpotApi, PAUSE_REFRESH_MS } from '../src/api/client.ts';
import { forgetPortalThrottles } from '../src/api/throttle.ts';
import { hubspotConfigSchema } from '../src/index.ts';
import { memoryState, startHubSpot } from './kit.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
  forgetPortalThrottles();
});

describe('HubSpot daily pause across workers', () => {
  it("a DAILY 429 met by one worker stops the others' calls to the portal within the refresh interval", async () => {
    // Starts at noon: the daily budget must not reset on its own because the run began at 23:59.
    const clock = createClock(wallClockFrom(Date.UTC(2026, 5, 15, 12)));
    const { hubspot, config } = await startHubSpot({ clock });
    cleanup.push(() => hubspot.close());
    // One connector state, as every worker on one database reads and writes the same rows.
    const { state } = memoryState();
    const deps = {
      config: hubspotConfigSchema.parse(config),
      logger: silentLogger,
      metrics: memoryMetrics(),
      state,
      now: clock.now,
    };
    const listContacts = (api: HubSpotApi) =>
      api.call('contacts.list', 'general', (client) => client.crm.contacts.basicApi.getPage(1));

    // Two workers, i.e. two processes: each has its own throttle (the map is per process).
    const first = new HubSpotApi(deps);
    forgetPortalThrottles();
    const second = new HubSpotApi(deps);
    await listContacts(first);
    await listContacts(second);

    hubspot.configureLimits({ daily: hubspot.usedToday });
    await expect(listContacts(first)).rejects.toMatchObject({ code: 'daily_quota' });
    expect(hubspot.ledger.count('api.rate_limited', (e) => e.policy === 'DAILY')).toBe(1);

    // The other worker learns of the pause from the store and refuses without calling HubSpot.
    clock.advance(PAUSE_REFRESH_MS);
    const calls = hubspot.ledger.count('api.call');
    const refused = await listContacts(second).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WabridgeError);
    expect(refused).toMatchObject({ code: 'daily_quota' });
    expect((refused as WabridgeError).retryAfterMs).toBeGreaterThan(0);
    expect(hubspot.ledger.count('api.call')).toBe(calls);
    expect(hubspot.ledger.count('api.rate_limited', (e) => e.policy === 'DAILY')).toBe(1);
  });
});
