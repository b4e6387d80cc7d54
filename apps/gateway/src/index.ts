// The gateway as a library: embed it, or compose a process with other connectors (tests, demo).
export { createApp } from './app.ts';
export { closeOnSignals, loadConfigFile, type Server, startServer } from './cli/serve.ts';
export { BUILT_IN_CONNECTORS, defaultRegistry } from './connectors.ts';
export { type Env, EnvError, loadEnv } from './env.ts';
export { createLogger } from './logger.ts';
export { createMetrics } from './metrics.ts';
export { createRuntime, type Runtime } from './runtime.ts';
export { installLink } from './slack-install.ts';
