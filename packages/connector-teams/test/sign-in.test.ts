import { afterEach, describe, expect, it } from 'vitest';
import { signInServiceAccount } from '../src/auth/sign-in.ts';
import { type Rig, startRig } from './support.ts';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

describe('the service account sign-in helper', () => {
  it('turns the interactive sign-in into a refresh token the connector can start from', async () => {
    rig = await startRig();
    const { graph } = rig;
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const result = await signInServiceAccount({
      tenantId: graph.tenantId,
      clientId: graph.app.clientId,
      clientSecret: graph.app.clientSecret,
      authorityHost: graph.authorityHost,
      port,
      // The admin's browser: the emulator signs the service account in and redirects back.
      open: async (url) => {
        const response = await fetch(url);
        expect(await response.text()).toMatch(/^Signed in/);
      },
    });
    expect(result.accountId).toBe(graph.serviceAccount.id);
    expect(result.username).toBe(graph.serviceAccount.userPrincipalName);
    expect(graph.ledger.count('token.issued', (e) => e.grantType === 'authorization_code')).toBe(1);
    // The connector starts from it: a new refresh token in the config seeds a new sign-in.
    const { createSecretBox, WorkspaceAdmin } = await import('@wabridge/core');
    const admin = new WorkspaceAdmin({
      store: rig.bridge.store,
      registry: rig.bridge.registry,
      secrets: createSecretBox(Buffer.alloc(32, 7)),
    });
    await admin.setConnector('test', rig.bridge.workspaceId, 'teams', {
      config: { refreshToken: result.refreshToken },
    });
    await rig.bridge.customerText('after the sign-in', { waId: '15553010101' });
    await rig.settle();
    expect(graph.ledger.count('message.created', (e) => e.text === 'after the sign-in')).toBe(1);
    expect(graph.ledger.count('token.rejected')).toBe(0);
  });
});
