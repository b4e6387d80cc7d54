import { readFileSync } from 'node:fs';
import { interpolateEnv, WabridgeError } from '@wabridge/core';
import { environmentVariables } from '../env.ts';
import { err } from './output.ts';
import type { OptionValues } from './parse.ts';
import { UsageError } from './parse.ts';
import { parseYaml } from './yaml.ts';

/**
 * The settings given to `connector enable|disable`, merged in this order (later wins):
 *
 * - `--config-file FILE`: JSON or YAML; `-` reads standard input;
 * - `--config JSON`: inline; `-` reads standard input;
 * - `--set key=value` (repeatable);
 * - `--set-env key=NAME` (repeatable): the value of the environment variable NAME.
 *
 * `${NAME}` in the file or in `--config` is replaced with the environment variable, as in the
 * declarative file. A secret given any of these ways but `--set`/`--config` with its value stays
 * out of `ps` and the shell history.
 */
export function connectorSettingsInput(
  values: OptionValues,
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): Record<string, unknown> {
  const file = values['config-file'] as string | undefined;
  const inline = values.config as string | undefined;
  if (file === '-' && inline === '-')
    throw new UsageError('--config - and --config-file - both read standard input: use one');
  const variables = environmentVariables();
  const stdin = (option: string) => {
    if (process.stdin.isTTY) err(`reading ${option} from standard input (end with Ctrl-D)`);
    return readStdin();
  };
  const config: Record<string, unknown> = {};
  if (file !== undefined) {
    const text = file === '-' ? stdin('--config-file') : readSettingsFile(file);
    const parsed = parseSettings(text, `--config-file ${file}`, file.endsWith('.json') ? 'json' : 'yaml');
    Object.assign(config, interpolateEnv(parsed, variables, '--config-file'));
  }
  if (inline !== undefined) {
    const text = inline === '-' ? stdin('--config') : inline;
    Object.assign(config, interpolateEnv(parseSettings(text, '--config', 'json'), variables, '--config'));
  }
  for (const pair of (values.set as string[] | undefined) ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--set expects key=value, got ${pair}`);
    config[pair.slice(0, at)] = pair.slice(at + 1);
  }
  for (const pair of (values['set-env'] as string[] | undefined) ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--set-env expects key=VARIABLE, got ${pair}`);
    const name = pair.slice(at + 1);
    const value = variables[name];
    if (value === undefined || value === '')
      throw new UsageError(`--set-env ${pair}: the environment variable ${name} is not set`);
    config[pair.slice(0, at)] = value;
  }
  return config;
}

function readSettingsFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new WabridgeError('not_found', `the settings file ${path} does not exist`);
    throw new WabridgeError(
      'config_invalid',
      `cannot read the settings file ${path}: ${(error as Error).message}`,
    );
  }
}

/** Inline JSON that does not parse is a mistake in the command line (exit 2); a file's, a failure (exit 1). */
function parseSettings(text: string, source: string, format: 'json' | 'yaml'): Record<string, unknown> {
  const inline = source === '--config';
  const fail = (message: string) =>
    inline ? new UsageError(message) : new WabridgeError('config_invalid', message);
  let parsed: unknown;
  try {
    // YAML reads JSON too; a .json file or --config is held to JSON, whose errors are clearer.
    parsed = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw fail(`${source} is not valid ${format.toUpperCase()}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw fail(`${source} must be an object of settings, like {"botToken": "xoxb-…"}`);
  }
  return parsed as Record<string, unknown>;
}
