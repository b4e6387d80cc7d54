// The HubSpot connector: `@wabridge/connector-hubspot`.

export { type HubSpotConfig, hubspotConfigSchema } from './config.ts';
export { HUBSPOT_BATCH_SIZE, hubspotConnector } from './connector.ts';
export {
  COMMUNICATION as HUBSPOT_COMMUNICATION_PROPERTIES,
  CONSENT_VALUES as HUBSPOT_CONSENT_VALUES,
  CONTACT as HUBSPOT_CONTACT_PROPERTIES,
  type ConsentValue as HubSpotConsentValue,
} from './setup/properties.ts';
export { signV3 as signHubSpotWebhook, verifyV3 as verifyHubSpotWebhook } from './webhooks/verify.ts';
