import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Env, err, out, UsageError } from '@wabridge/gateway';
import { formatReport } from './report.ts';
import { runScenario } from './scenario.ts';
import { type DemoStack, startDemoStack } from './stack.ts';

const USAGE = `usage: wabridge demo [--script] [--keep] [--port N]

  (no option)   start everything and keep running until Ctrl-C; open the console URL it prints
  --script      play the scripted conversation, print what each system received, exit 0 if all is there
  --keep        with --script: keep running afterwards, to look at the result in the console
  --port N      port of the console (default 5180; 0 = any free port)`;

/**
 * `wabridge demo`: the gateway, the four platform emulators and the sandbox console in one process,
 * on a throwaway data directory removed at exit. See docs/demo.md.
 */
export async function runDemo(env: Env, args: string[]): Promise<void> {
  let values: { script?: boolean; keep?: boolean; port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        script: { type: 'boolean' },
        keep: { type: 'boolean' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    out(USAGE);
    return;
  }
  const consolePort = values.port === undefined ? 5180 : Number(values.port);
  if (!Number.isInteger(consolePort) || consolePort < 0 || consolePort > 65535) {
    throw new UsageError(`--port expects a port number, got ${values.port}\n\n${USAGE}`);
  }

  const started = Date.now();
  // Ctrl-C (or SIGTERM) at any point, even while starting: close everything, remove the directory,
  // exit. A second Ctrl-C while closing exits at once.
  let stack: DemoStack | null = null;
  let interrupted = false;
  let stopping: Promise<void> | null = null;
  const stop = (running: DemoStack, code: number) => {
    stopping ??= running.close().then(() => {
      out(`Stopped. Removed ${running.dir}`);
      process.exit(code);
    });
    return stopping;
  };
  const exitCode = () => (values.script && !values.keep ? 130 : 0);
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping || interrupted) process.exit(1);
    out(`\nReceived ${signal}: stopping the demo…`);
    if (stack) void stop(stack, exitCode());
    else interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stack = await startWithPort(env, consolePort);
  if (interrupted) {
    await stop(stack, exitCode());
    return;
  }

  out(banner(stack, Date.now() - started));
  if (!values.script) {
    out(
      'Ready. Open the console and play the customer, the agents and the CRM; open the admin link beside it. Ctrl-C stops everything.',
    );
    return;
  }

  out('Playing the scripted conversation…\n');
  let code = 1;
  try {
    const report = await runScenario(stack, { log: (line) => out(`  ${line}`) });
    out(formatReport(report));
    code = report.ok ? 0 : 1;
    if (!report.ok) printLogTail(stack.logPath);
  } catch (error) {
    err(`The scripted conversation failed: ${error instanceof Error ? error.message : String(error)}`);
    printLogTail(stack.logPath);
  }
  if (values.keep) {
    out(`\nStill running: ${stack.console.url}/ — Ctrl-C stops everything.`);
    return;
  }
  await stop(stack, code);
}

async function startWithPort(env: Env, consolePort: number): Promise<DemoStack> {
  const options = {
    logLevel: env.LOG_LEVEL,
    consoleActions: [
      {
        id: 'day',
        label: '⏩ A day passes',
        title: 'Moves every clock (the emulators and the gateway) 25 hours ahead: the 24-hour window closes',
        run: async () => {
          await current?.advance(25 * 60 * 60 * 1000);
        },
      },
    ],
  };
  let current: DemoStack | null = null;
  try {
    current = await startDemoStack({ ...options, consolePort });
  } catch (error) {
    // The default port is taken (another demo?): take any free one rather than fail.
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || consolePort === 0) throw error;
    current = await startDemoStack({ ...options, consolePort: 0 });
  }
  return current;
}

function banner(stack: DemoStack, startedInMs: number): string {
  return [
    '',
    `wabridge demo — everything running locally in ${(startedInMs / 1000).toFixed(1)} s, no account anywhere`,
    '',
    `  Console      ${stack.console.url}/`,
    `  Admin        ${stack.adminSignInUrl}`,
    `               (the admin console, signed in as the demo owner; the link works once — then sign in`,
    `               at ${stack.gatewayUrl}/admin as ${stack.adminOwner.email} / ${stack.adminOwner.password})`,
    `  Gateway      ${stack.gatewayUrl}   (WhatsApp webhooks at /webhooks/whatsapp, connector callbacks at /hooks/…)`,
    `  WhatsApp     ${stack.whatsapp.url}   (Cloud API emulator; control API at /_sandbox/whatsapp)`,
    `  Slack        ${stack.slack.url}   (Web API emulator)`,
    `  Teams        ${stack.graph.url}   (Microsoft Graph emulator, HTTPS with a throwaway certificate)`,
    `  HubSpot      ${stack.hubspot.url}   (CRM API emulator)`,
    '',
    `  Connect again by clicking (replaces the demo's tokens; the links work for one hour):`,
    `    Slack      ${stack.connectLinks.slack}`,
    `    HubSpot    ${stack.connectLinks.hubspot}`,
    `    Teams      ${stack.connectLinks.teams}`,
    '',
    `  Data         ${stack.dir}   (SQLite database, media, log; removed at exit)`,
    `  Gateway log  ${stack.logPath}`,
    '',
  ].join('\n');
}

/** When something went wrong, the gateway's warnings and errors say why (the log goes away at exit). */
function printLogTail(path: string): void {
  try {
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => /"level":(40|50|60)/.test(line))
      .slice(-20);
    if (lines.length > 0) err(`\nGateway warnings and errors (last ${lines.length}):\n${lines.join('\n')}`);
  } catch {
    // No log: nothing to add.
  }
}
