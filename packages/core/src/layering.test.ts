// The house rules of the monorepo's layering, checked on the source text: no import loops anywhere,
// core names no platform, connectors never import each other. A reader can then follow any path
// in one direction (docs/architecture.md draws it).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const files = [...sources(join(ROOT, 'apps')), ...sources(join(ROOT, 'packages'))];
const imports = new Map(
  files.map((file) => [file, [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => m[1] as string)]),
);
const rel = (file: string) => relative(ROOT, file);

/** Strongly connected groups of more than one file (Tarjan), type-only imports included. */
function importLoops(): string[][] {
  const graph = new Map<string, string[]>();
  for (const [file, specs] of imports) {
    graph.set(
      file,
      specs
        .filter((s) => s.startsWith('.'))
        .map((s) => resolve(dirname(file), s))
        .filter((t) => existsSync(t)),
    );
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const loops: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      group.push(rel(w));
    } while (w !== v);
    if (group.length > 1) loops.push(group);
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return loops;
}

function offenders(prefix: string, forbidden: (spec: string, file: string) => boolean): string[] {
  return files
    .filter((file) => rel(file).startsWith(prefix))
    .flatMap((file) =>
      (imports.get(file) ?? []).filter((s) => forbidden(s, file)).map((s) => `${rel(file)} → ${s}`),
    );
}

describe('layering', () => {
  it('has no import loops in apps/ and packages/', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(importLoops()).toEqual([]);
  });

  it('keeps platforms out of core: no WhatsApp, Slack, Teams or HubSpot code or SDK imported', () => {
    const platform =
      /^@wabridge\/(whatsapp|connector-|sandbox)|^@slack\/|^@hubspot\/|^@microsoft\/|\/ingest\//;
    expect(offenders('packages/core/src/', (spec) => platform.test(spec))).toEqual([]);
  });

  it('keeps the store below ingest and the connectors (the translator is a plug-in)', () => {
    expect(
      offenders('packages/core/src/store/', (spec, file) => {
        const target = spec.startsWith('.') ? rel(resolve(dirname(file), spec)) : spec;
        return /core\/src\/ingest\/|^@wabridge\/(whatsapp|connector-)/.test(target);
      }),
    ).toEqual([]);
  });

  it('never lets one connector import another', () => {
    for (const name of ['slack', 'teams', 'hubspot']) {
      const other = new RegExp(`^@wabridge/connector-(?!${name})`);
      expect(offenders(`packages/connector-${name}/src/`, (spec) => other.test(spec))).toEqual([]);
    }
  });
});
