import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EnvError, envSchema, loadEnv } from './env.ts';

describe('configuration', () => {
  it('.env.example documents exactly the variables the schema reads', () => {
    const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    const documented = [...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(Object.keys(envSchema.shape).sort());
  });

  it('names the variable and the problem when a value is invalid', () => {
    expect(() => loadEnv({ PORT: 'eighty', WHATSAPP_API_VERSION: '23' })).toThrowError(
      /PORT: .*\n.*WHATSAPP_API_VERSION: like v23\.0/s,
    );
  });

  it('refuses to start in production without a master key, saying why and how to make one', () => {
    expect(() =>
      loadEnv({
        NODE_ENV: 'production',
        WHATSAPP_APP_SECRET: 's',
        WHATSAPP_VERIFY_TOKEN: 'v',
        WHATSAPP_ACCESS_TOKEN: 't',
      }),
    ).toThrowError(EnvError);
    expect(() => loadEnv({ NODE_ENV: 'production' })).toThrowError(
      /WABRIDGE_MASTER_KEY.*openssl rand -base64 32/s,
    );
  });

  it('runs on the embedded defaults in development with nothing set', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ devMode: true, PORT: 3000, WEBHOOK_MAX_BODY_BYTES: 1024 * 1024 - 1 });
    expect(env.databasePath).toMatch(/data\/wabridge\.db$/);
  });
});
