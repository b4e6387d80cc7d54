import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseYaml } from './cli/yaml.ts';

// What the main thread of a SQLite gateway holds is multiplied by its old generation's growth
// (docs/performance.md, "Memory under backlog"): modules only some gateways need are loaded when
// they are needed.
describe('the modules a SQLite gateway loads', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('are neither the Postgres store and its driver nor the YAML parser', () => {
    dir = mkdtempSync(join(tmpdir(), 'wabridge-modules-'));
    // In a process of its own: the gateway's index (which `serve` loads), then its store opened as
    // `serve` opens it; every module resolved on the way is listed.
    const script = `
      import module from 'node:module';
      const seen = [];
      module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      const gateway = await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});
      const { openChosenStore } = await import(${JSON.stringify(new URL('./store-choice.ts', import.meta.url).href)});
      const env = gateway.loadEnv({ NODE_ENV: 'test', WABRIDGE_DATA_DIR: ${JSON.stringify(dir)} });
      const store = await openChosenStore(env);
      await store.close();
      process.stdout.write(JSON.stringify(seen));
    `;
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as string[];
    expect(loaded.some((url) => url.endsWith('/cli/serve.ts'))).toBe(true);
    expect(loaded.some((url) => url.includes('/store/sqlite/'))).toBe(true);
    expect(
      loaded.filter((url) => /\/store-postgres\/|\/node_modules\/(pg|pg-[a-z]+|yaml)\//.test(url)),
    ).toEqual([]);
  });

  it('parses a YAML file once one is read', () => {
    expect(parseYaml('connectors:\n  slack:\n    enabled: true\n')).toEqual({
      connectors: { slack: { enabled: true } },
    });
  });
});
