import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('the ingest plugin (what the store thread loads)', () => {
  it("loads neither core's index nor the Cloud API client, only what ingest needs", () => {
    // In a process of its own, as the store thread loads it: every module it resolves is listed.
    const script = `
      import module from 'node:module';
      const seen = [];
      module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      await import(${JSON.stringify(new URL('./ingest-plugin.ts', import.meta.url).href)});
      process.stdout.write(JSON.stringify(seen));
    `;
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as string[];
    expect(loaded.some((url) => url.endsWith('/ingest-plugin.ts'))).toBe(true);
    expect(loaded.filter((url) => /\/core\/src\/index\.ts$|\/cloud-api-client\.ts$/.test(url))).toEqual([]);
  });
});
