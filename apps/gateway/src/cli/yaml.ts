import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');

let yaml: Yaml | undefined;

/**
 * YAML's parser, loaded when a YAML file is first read (a config file, a connector's settings)
 * instead of when the CLI loads: a gateway started without one never holds it (~70 modules, 0.7 MB
 * of the main thread's live heap, which its old generation then multiplies; docs/performance.md,
 * "Memory under backlog"). Synchronous, as its callers are: `yaml` ships a CommonJS build.
 */
export function parseYaml(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as Yaml;
  return yaml.parse(text);
}
