import { COMMANDS } from './cli/commands.ts';
import { err, out } from './cli/output.ts';
import {
  commandHelp,
  type Entry,
  groupHelp,
  isGroup,
  parseCommand,
  resolve,
  UsageError,
  wantsHelp,
} from './cli/parse.ts';
import type { Env } from './env.ts';

function mainHelp(entries: readonly Entry[]): string {
  const rows = entries.map((e) =>
    isGroup(e)
      ? ([`${e.name} …`, e.commands.map((c) => c.path[1]).join(' | ')] as const)
      : ([[...e.path, ...(e.arguments ?? []).map((a) => a.name)].join(' '), e.summary] as const),
  );
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    'wabridge — WhatsApp Business conversations in Slack, Teams and HubSpot',
    '',
    'usage: wabridge <command> [arguments] [options]',
    '',
    ...rows.map(([left, summary]) => `  ${left.padEnd(width)}  ${summary}`),
    '',
    'wabridge <command> --help shows its usage and options. Configuration comes from the',
    'environment: see .env.example. Exit status: 0 done, 1 failed, 2 the command line is wrong.',
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    out(mainHelp(COMMANDS));
    return;
  }
  // `wabridge help workspace create` is `wabridge workspace create --help`.
  const words = first === 'help' ? [...argv.slice(1), '--help'] : argv;
  if (words[0] === '--help') {
    out(mainHelp(COMMANDS));
    return;
  }
  const resolved = await resolve(COMMANDS, words);
  if (resolved.kind === 'group') {
    if (wantsHelp(resolved.args)) {
      out(groupHelp(resolved.group));
      return;
    }
    const names = resolved.group.commands.map((c) => c.path[1]).join(', ');
    throw new UsageError(
      `wabridge ${resolved.group.name} needs a subcommand: ${names} (wabridge ${resolved.group.name} --help)`,
    );
  }
  const { command, args } = resolved;
  // Help is answered before anything else is read or opened: no environment, no database.
  if (wantsHelp(args)) {
    out(commandHelp(command));
    return;
  }
  const { values, positionals } = await parseCommand(command, args);
  // Loaded here, not at the top: help and usage errors answer without the validator behind it.
  const { loadEnv } = await import('./env.ts');
  let env: Env | null = null;
  await command.run({
    env: () => {
      env ??= loadEnv();
      return env;
    },
    values,
    positionals,
    args,
  });
}

main(process.argv.slice(2)).catch(async (error: unknown) => {
  // One line for what the user can act on; a stack only for what is a bug (and only on request).
  const { EnvError, environmentVariables } = await import('./env.ts');
  const { isWabridgeError } = await import('@wabridge/core');
  if (error instanceof UsageError || error instanceof EnvError) err(error.message);
  else if (isWabridgeError(error)) err(`${error.code}: ${error.message}`);
  else {
    const message = error instanceof Error ? error.message : String(error);
    const debug = /^(debug|trace)$/.test(environmentVariables().LOG_LEVEL ?? '');
    err(
      debug && error instanceof Error && error.stack
        ? error.stack
        : `error: ${message} (LOG_LEVEL=debug shows where)`,
    );
  }
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
