export { type HubSpotConfig, hubspotConfigSchema } from './config.ts';
export { signV3 as signHubSpotWebhook, verifyV3 as verifyHubSpotWebhook } from './inbound/verify.ts';
export { HUBSPOT_BATCH_SIZE, hubspotConnector } from './manifest.ts';
export {
  exchangeHubSpotCode,
  HUBSPOT_OAUTH_SCOPES,
  HUBSPOT_OPTIONAL_SCOPES,
  type HubSpotInstallation,
  HubSpotInstallError,
  hubspotAuthorizeUrl,
} from './oauth/install.ts';
export {
  OAUTH_STATUS_KEY as HUBSPOT_OAUTH_STATUS_KEY,
  type OAuthStatus as HubSpotOAuthStatus,
} from './oauth/tokens.ts';
export {
  COMMUNICATION as HUBSPOT_COMMUNICATION_PROPERTIES,
  CONSENT_VALUES as HUBSPOT_CONSENT_VALUES,
  CONTACT as HUBSPOT_CONTACT_PROPERTIES,
  type ConsentValue as HubSpotConsentValue,
} from './setup/properties.ts';
