// The gateway as a library: embed it, or compose a process with other connectors (tests, apps/demo).
export { SignInLinks } from './admin/console/sign-in-links.ts';
export { createApp } from './app.ts';
export { err, out } from './cli/output.ts';
export { UsageError } from './cli/parse.ts';
export { closeOnSignals, loadConfigFile, type Server, startServer } from './cli/serve.ts';
export { hubspotConnectLink } from './connect/hubspot.ts';
export { teamsConnectLink } from './connect/teams.ts';
export { BUILT_IN_CONNECTORS, defaultRegistry } from './connectors.ts';
export { type Env, EnvError, loadEnv } from './env.ts';
export { createLogger } from './logger.ts';
export { createMetrics } from './metrics.ts';
export { createRuntime, type Runtime } from './runtime.ts';
export { installLink } from './slack-install.ts';
