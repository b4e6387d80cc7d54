/**
 * @wabridge/connector-slack — one Slack thread per WhatsApp conversation; agents reply from the
 * thread. Register `slackConnector` with the gateway; configure it per workspace (see
 * docs/connectors/slack.md and the app manifest beside it).
 */

export { translateSlackError } from './api/errors.ts';
export { formatRef, parseRef } from './api/refs.ts';
export { type RouteRule, type SlackConfig, type SlackConfigInput, slackConfigSchema } from './config.ts';
export { METADATA_EVENT, SLACK, TEMPLATE_ACTION } from './constants.ts';
export { chooseChannel } from './deliver/routing.ts';
export { classifyReply, commandsForEvent, isBotMessage } from './inbound/events.ts';
export { servesSource } from './inbound/serves-source.ts';
export { parseTemplateCommand, parseThreadReference } from './inbound/templates.ts';
export { verifySlackSignature } from './inbound/verify.ts';
export {
  checkInstallation,
  SLACK_BOT_SCOPES,
  type SlackInstallation,
  SlackInstallError,
} from './install.ts';
export { slackConnector } from './manifest.ts';
export { renderCard } from './render/card.ts';
export { slackReactionName } from './render/emoji.ts';
export { escapeMrkdwn, slackToWhatsApp } from './render/text.ts';
