import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../testing/harness.ts';
import { adminApi } from './index.ts';
import { PERMISSION_EXTENSION } from './openapi.ts';

/**
 * The OpenAPI document is generated from the routes' zod schemas; a copy is checked in
 * (docs/admin-api.openapi.json) so changes to the API show in review. Regenerate it with
 * `WABRIDGE_UPDATE_OPENAPI=1 npx vitest run src/admin/openapi.test.ts`.
 */
const CHECKED_IN = new URL('../../../../docs/admin-api.openapi.json', import.meta.url);

let t: Awaited<ReturnType<typeof createTestApp>>;
let doc: { paths: Record<string, Record<string, Record<string, unknown>>> };

beforeAll(async () => {
  t = await createTestApp();
  const response = await t.app.request('/admin/api/openapi.json');
  expect(response.status).toBe(200);
  doc = (await response.json()) as typeof doc;
});
afterAll(() => t.close());

describe('the admin OpenAPI document', () => {
  it('lists exactly the routes the admin API answers, each with its permission', () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      )
      .sort();
    const served = adminApi(t.runtime)
      .routes.filter((r) => r.method !== 'ALL' && r.path !== '/openapi.json')
      .map((r) => `${r.method} ${r.path}`);
    expect([...new Set(served)].sort()).toEqual(documented);
    for (const methods of Object.values(doc.paths))
      for (const op of Object.values(methods)) expect(op[PERMISSION_EXTENSION]).toBeTruthy();
  });

  it('matches the checked-in copy (docs/admin-api.openapi.json)', () => {
    const generated = `${JSON.stringify(doc, null, 2)}\n`;
    if (process.env.WABRIDGE_UPDATE_OPENAPI === '1') writeFileSync(CHECKED_IN, generated);
    expect(
      readFileSync(CHECKED_IN, 'utf8'),
      'regenerate: WABRIDGE_UPDATE_OPENAPI=1 npx vitest run src/admin/openapi.test.ts',
    ).toBe(generated);
  });
});
