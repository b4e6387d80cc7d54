/** The connector's id (in URLs, refs and job rows). */
export const SLACK = 'slack';
/** `event_type` of the metadata on every message we post; its payload's nonce finds a post again after a crash. */
export const METADATA_EVENT = 'wabridge_post';
/** The action of the template picker in notices, and the callback id of its modal. */
export const TEMPLATE_ACTION = 'wabridge_template';
/** Connector state key of the workspace's templates (cached from notices, for the picker's modal). */
export const TEMPLATES_KEY = 'templates';
/** Connector state key of the bot's identity (learned with auth.test). */
export const IDENTITY_KEY = 'identity';
/** Connector state key of an uninstall or bot token revocation Slack reported (see inbound/revocation.ts). */
export const REVOKED_KEY = 'revoked';
