import type { HubSpotEmulator } from '@wabridge/sandbox/hubspot';
import { describeConnectorConformance } from '@wabridge/whatsapp/testing';
import { hubspotConnector } from '../src/index.ts';
import { APP_ID, hookUrl, hubspotContactOf, startHubSpot, timelineOf } from './kit.ts';

let hubspot: HubSpotEmulator;

describeConnectorConformance('hubspot', {
  manifest: hubspotConnector,
  // The OAuth install's refresh token; this suite runs the private app (test/oauth.test.ts the install).
  alternativeSecretFields: ['refreshToken'],
  async start() {
    const started = await startHubSpot();
    hubspot = started.hubspot;
    return { config: started.config, stop: () => hubspot.close() };
  },
  mirrored: (bridge, conversationId) => timelineOf(bridge, hubspot, conversationId),
  failNext(failure) {
    hubspot.failNext(failure);
  },
  inbound: {
    // HubSpot tells us about the consent value the connector itself wrote on the contact.
    async echo(bridge, conversationId) {
      const contactId = await hubspotContactOf(bridge, conversationId);
      const event = hubspot.propertyChangeEvent(contactId ?? '0', 'wabridge_whatsapp_consent', 'opted_out', {
        changeSource: 'INTEGRATION',
        sourceId: String(APP_ID),
      });
      return hubspot.webhookRequest([event], { url: hookUrl(bridge) });
    },
    async forged(bridge) {
      const event = hubspot.propertyChangeEvent('100001', 'wabridge_whatsapp_consent', 'opted_out');
      return hubspot.webhookRequest([event], { url: hookUrl(bridge), secret: 'not-the-client-secret' });
    },
  },
});
