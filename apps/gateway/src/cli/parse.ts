import type { Env } from '../env.ts';

/**
 * The nearest name, for "did you mean". Loaded only on this error path: the core (and the SDKs
 * behind it) take a second or more to load, and help and usage errors should answer at once.
 */
async function closest(name: string, candidates: readonly string[]): Promise<string | null> {
  const core = await import('@wabridge/core');
  return core.closest(name, candidates);
}

/**
 * A mistake in the command line: unknown command or option, missing or extra argument, a value
 * that cannot be read. Printed as one line (no stack) and the process exits 2; a command that was
 * understood but failed exits 1.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Repeatable (`--set a=1 --set b=2`). */
  multiple?: boolean;
  /** Placeholder of the value in the help: `--id <id>`. */
  value?: string;
  help: string;
}

export interface ArgumentSpec {
  /** As shown in the usage: `<workspace>`, `[<workspace>]`. */
  name: string;
  optional?: boolean;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandInput {
  /** The environment, read when the command runs (help never reads it). */
  env: () => Env;
  values: OptionValues;
  positionals: string[];
  /** The arguments after the command's words, as typed. */
  args: string[];
}

/** One command of the table: what selects it, its usage, and what it runs. */
export interface CommandSpec {
  /** The words that select it: `['workspace', 'create']`. */
  path: readonly string[];
  summary: string;
  /** Further paragraphs of its help. */
  details?: string;
  arguments?: readonly ArgumentSpec[];
  options?: Readonly<Record<string, OptionSpec>>;
  run(input: CommandInput): Promise<void>;
}

/** Commands that share a first word (`workspace create`, `workspace list` …). */
export interface GroupSpec {
  name: string;
  summary: string;
  commands: readonly CommandSpec[];
  /**
   * What the group runs when its next word names none of its subcommands: `wabridge erase acme
   * --contact …` beside `wabridge erase status acme er_…`.
   */
  default?: CommandSpec;
}

export type Entry = CommandSpec | GroupSpec;

export const isGroup = (entry: Entry): entry is GroupSpec => 'commands' in entry;

const HELP_FLAGS = new Set(['--help', '-h']);

/** `--help` or `-h` anywhere before a `--`: the answer is the help, whatever else was typed. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (HELP_FLAGS.has(arg)) return true;
  }
  return false;
}

export type Resolved =
  | { kind: 'command'; command: CommandSpec; args: string[] }
  | { kind: 'group'; group: GroupSpec; args: string[] };

/**
 * Finds the command the words name. An unknown word is a usage error naming the nearest command;
 * a group without a subcommand resolves to the group (its help, or a usage error).
 */
export async function resolve(entries: readonly Entry[], argv: readonly string[]): Promise<Resolved> {
  const [word = '', ...rest] = argv;
  const entry = entries.find((e) => (isGroup(e) ? e.name : e.path[0]) === word);
  if (!entry) {
    const names = entries.map((e) => (isGroup(e) ? e.name : (e.path[0] ?? '')));
    const near = word.startsWith('-') ? null : await closest(word, names);
    throw new UsageError(
      `unknown command "${word}"${near ? `; did you mean "${near}"?` : ''} (wabridge --help lists the commands)`,
    );
  }
  if (!isGroup(entry)) return { kind: 'command', command: entry, args: rest };
  const [sub, ...args] = rest;
  if (sub === undefined || sub.startsWith('-')) return { kind: 'group', group: entry, args: rest };
  const command = entry.commands.find((c) => c.path[1] === sub);
  if (!command && entry.default) return { kind: 'command', command: entry.default, args: rest };
  if (!command) {
    const near = await closest(
      sub,
      entry.commands.map((c) => c.path[1] ?? ''),
    );
    throw new UsageError(
      `unknown ${entry.name} subcommand "${sub}"${near ? `; did you mean "${near}"?` : ''} (wabridge ${entry.name} --help lists them)`,
    );
  }
  return { kind: 'command', command, args };
}

/**
 * Reads a command's arguments against its spec: every option known and well formed, the
 * positional arguments neither missing nor extra. Extra words are refused: `workspace create Beta
 * beta` is a mistake (often `npm run` eating `--id`), not a workspace named "Beta beta".
 */
export async function parseCommand(
  command: CommandSpec,
  args: readonly string[],
): Promise<{ values: OptionValues; positionals: string[] }> {
  const options = command.options ?? {};
  const values: OptionValues = {};
  const positionals: string[] = [];
  const name = `wabridge ${command.path.join(' ')}`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const at = arg.indexOf('=');
    const key = arg.startsWith('--') ? arg.slice(2, at > 0 ? at : undefined) : '';
    const spec = key ? options[key] : undefined;
    if (!spec) {
      const near = await closest(key || arg.replace(/^-+/, ''), Object.keys(options));
      const known = Object.keys(options);
      throw new UsageError(
        `unknown option ${arg.slice(0, at > 0 ? at : undefined)} for ${name}${near ? `; did you mean --${near}?` : ''}${
          known.length > 0 ? ` (options: ${known.map((o) => `--${o}`).join(', ')})` : ' (it takes no options)'
        }`,
      );
    }
    let value: string | boolean;
    if (spec.type === 'boolean') {
      if (at > 0) throw new UsageError(`--${key} takes no value (${name} --help)`);
      value = true;
    } else if (at > 0) {
      value = arg.slice(at + 1);
    } else {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith('--') && next !== '--')) {
        throw new UsageError(
          `--${key} needs a value: --${key} ${spec.value ?? '<value>'}${next ? ` (to pass a value starting with --, write --${key}=${next})` : ''}`,
        );
      }
      value = next;
      i++;
    }
    if (spec.multiple) {
      const list = (values[key] as string[] | undefined) ?? [];
      list.push(String(value));
      values[key] = list;
    } else {
      if (values[key] !== undefined) throw new UsageError(`--${key} is given twice`);
      values[key] = value;
    }
  }
  const expected = command.arguments ?? [];
  const required = expected.filter((a) => !a.optional);
  if (positionals.length < required.length) {
    const missing = required.slice(positionals.length).map((a) => a.name);
    throw new UsageError(`${name} needs ${missing.join(' ')}\nusage: ${usageLine(command)}`);
  }
  if (positionals.length > expected.length) {
    const extra = positionals.slice(expected.length).map((p) => `"${p}"`);
    throw new UsageError(
      `${name} takes ${expected.length === 0 ? 'no arguments' : expected.map((a) => a.name).join(' ')}, but was also given ${extra.join(' ')}: ` +
        `quote a value with spaces ("Acme Support"), and under npm run put -- before the command, or npm keeps its options (npm run wabridge -- ${command.path.join(' ')} …)`,
    );
  }
  return { values, positionals };
}

export function usageLine(command: CommandSpec): string {
  const args = (command.arguments ?? []).map((a) => a.name);
  const options = Object.entries(command.options ?? {}).map(([key, spec]) =>
    spec.type === 'boolean'
      ? `[--${key}]`
      : `[--${key} ${spec.value ?? '<value>'}]${spec.multiple ? '…' : ''}`,
  );
  return ['wabridge', ...command.path, ...args, ...options].join(' ');
}

export function commandHelp(command: CommandSpec): string {
  const lines = [`usage: ${usageLine(command)}`, '', command.summary];
  if (command.details) lines.push('', command.details);
  const options: (readonly [string, string])[] = Object.entries(command.options ?? {}).map(
    ([key, spec]) =>
      [`--${key}${spec.type === 'string' ? ` ${spec.value ?? '<value>'}` : ''}`, spec.help] as const,
  );
  options.push(['-h, --help', 'show this help']);
  const width = Math.max(...options.map(([flag]) => flag.length));
  lines.push('', 'options:', ...options.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`));
  return lines.join('\n');
}

export function groupHelp(group: GroupSpec): string {
  const rows = group.commands.map(
    (c) => [[c.path[1] ?? '', ...(c.arguments ?? []).map((a) => a.name)].join(' '), c.summary] as const,
  );
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `usage: wabridge ${group.name} <subcommand> [arguments] [options]`,
    ...(group.default ? [`   or: ${usageLine(group.default)}`] : []),
    '',
    group.summary,
    '',
    'subcommands:',
    ...rows.map(([left, summary]) => `  ${left.padEnd(width)}  ${summary}`),
    '',
    `wabridge ${group.name} <subcommand> --help shows a subcommand's options.`,
  ].join('\n');
}
