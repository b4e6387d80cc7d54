export { formatAttachmentRef, parseAttachmentRef } from './api/files.ts';
export { parseMessageResource, parseTeamsMessageRef, teamsMessageRef } from './api/ids.ts';
export {
  type PostableTeam,
  postableTeams,
  redeemTeamsSignIn,
  type TeamsSignIn,
  type TeamsSignInApp,
  teamsSignInUrl,
} from './auth/browser-sign-in.ts';
export type { AuthStatus } from './auth/tokens.ts';
export {
  type ChannelTarget,
  routeFor,
  type TeamsConfig,
  type TeamsConfigInput,
  teamsConfigSchema,
} from './config.ts';
export { classifyReply, commandsFor, parseTemplateCommand } from './inbound/commands.ts';

export { teamsConnector } from './manifest.ts';
export { escapeCardText, escapeHtml, teamsHtmlToText } from './render/text.ts';
