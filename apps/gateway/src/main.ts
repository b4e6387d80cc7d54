import { isWabridgeError } from '@wabridge/core';
import {
  backupCommand,
  configCommand,
  connectorCommand,
  eventsCommand,
  migrateCommand,
  replayCommand,
  secretsCommand,
  statusCommand,
  UsageError,
  workspaceCommand,
} from './cli/admin.ts';
import { err, out } from './cli/output.ts';
import { closeOnSignals, startServer } from './cli/serve.ts';
import { defaultRegistry } from './connectors.ts';
import { EnvError, loadEnv } from './env.ts';

const HELP = `wabridge — WhatsApp Business conversations in Slack, Teams and HubSpot

usage: wabridge <command> [options]

  serve [--no-worker]      run the HTTP gateway (with the delivery worker unless --no-worker)
  worker                   run only the delivery worker
  migrate                  create or upgrade the database
  workspace …              create|list|show|add-number|remove-number|policies|delete
  connector …              list|show|enable|disable
  replay …                 list dead-lettered jobs, replay them (--all, --id N), or --unrouted
  events …                 what Meta sent that is kept as a platform event (--workspace, --field, --json)
  config apply|check FILE  apply a declarative configuration file (YAML or JSON)
  secrets rotate           re-encrypt stored secrets with the current master key
  status                   queue depth per connector
  backup FILE              consistent copy of the live database
  demo [--script]          the whole bridge against the local sandbox

Configuration comes from the environment: see .env.example.`;

async function main(argv: string[]): Promise<void> {
  const [command = 'help', ...args] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    out(HELP);
    return;
  }
  const env = loadEnv();
  switch (command) {
    case 'serve': {
      const server = await startServer(env, {
        worker: !args.includes('--no-worker') && env.WORKER_ENABLED,
        http: true,
        registry: defaultRegistry(),
      });
      closeOnSignals(server, (m) => server.runtime.logger.info({}, m));
      return;
    }
    case 'worker': {
      const server = await startServer(env, { worker: true, http: false, registry: defaultRegistry() });
      closeOnSignals(server, (m) => server.runtime.logger.info({}, m));
      return;
    }
    case 'migrate':
      return migrateCommand(env);
    case 'workspace':
      return workspaceCommand(env, args);
    case 'connector':
      return connectorCommand(env, args);
    case 'replay':
      return replayCommand(env, args);
    case 'events':
      return eventsCommand(env, args);
    case 'config':
      return configCommand(env, args);
    case 'secrets':
      return secretsCommand(env, args);
    case 'status':
      return statusCommand(env);
    case 'backup':
      return backupCommand(env, args);
    case 'demo': {
      const { runDemo } = await import('./demo/index.ts');
      return runDemo(env, args);
    }
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof EnvError) err(error.message);
  else if (isWabridgeError(error)) err(`${error.code}: ${error.message}`);
  else if (error && typeof error === 'object' && 'issues' in error)
    err(`invalid input: ${JSON.stringify((error as { issues: unknown }).issues)}`);
  else err(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
