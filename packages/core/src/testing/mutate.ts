/**
 * Random changes to JSON, for tests that real traffic's mess does not break a parser: a value
 * replaced by one of the wrong type, dropped, repeated, wrapped in an array, given unknown keys.
 * Seeded, so a failing body can be made again from its seed and index.
 */

import { seededRandom } from './random.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The seed and the number of bodies of a mutation test: fixed by default, so CI runs the same
 * bodies every time; WABRIDGE_MUTATION_SEED and WABRIDGE_MUTATIONS make others, or more.
 */
export function mutationRun(defaultCount: number): { seed: number; count: number } {
  const seed = Number(process.env.WABRIDGE_MUTATION_SEED ?? 20261204);
  const count = Number(process.env.WABRIDGE_MUTATIONS ?? defaultCount);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(count) || count <= 0)
    throw new Error('WABRIDGE_MUTATION_SEED and WABRIDGE_MUTATIONS take whole numbers');
  return { seed, count };
}

/** Values real payloads have been seen to carry where something else was expected. */
const ODD_VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  2 ** 53 + 2, // beyond the safe integers
  '',
  ' ',
  '0',
  '1749416383',
  'not-a-number',
  '🙂👍🏽',
  'x'.repeat(5000),
  '<script>alert(1)</script>',
  {},
  [],
  [null],
  { unexpected: { deep: [1, 'a', null] } },
];

type Path = (string | number)[];

/** Every place in the tree a mutation can hit (the root excluded). */
function paths(value: Json, prefix: Path = []): Path[] {
  if (Array.isArray(value))
    return value.flatMap((item, i) => [[...prefix, i], ...paths(item, [...prefix, i])]);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([key, item]) => [
      [...prefix, key],
      ...paths(item, [...prefix, key]),
    ]);
  return [];
}

function parentOf(root: Json, path: Path): Json {
  let node = root;
  for (const step of path.slice(0, -1)) node = (node as Record<string | number, Json>)[step] as Json;
  return node;
}

/** One random change at one random place of `root` (changed in place); returns what it did, for a failure message. */
function mutate(root: Json, random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const all = paths(root);
  if (all.length === 0) return 'nothing to change';
  const path = pick(all);
  const container = parentOf(root, path);
  const list = Array.isArray(container) ? container : null;
  const parent = container as unknown as Record<string | number, Json>;
  const key = path.at(-1) as string | number;
  const at = path.join('.');
  const kind = pick(['replace', 'replace', 'replace', 'drop', 'repeat', 'wrap', 'unknown key', 'retype']);
  switch (kind) {
    case 'replace': {
      const value = pick(ODD_VALUES);
      parent[key] = structuredClone(value);
      return `${at} = ${JSON.stringify(value).slice(0, 40)}`;
    }
    case 'drop':
      if (list) list.splice(key as number, 1);
      else delete parent[key];
      return `${at} dropped`;
    case 'repeat':
      if (list) {
        list.splice(key as number, 0, structuredClone(list[key as number] as Json));
        return `${at} repeated`;
      }
      parent[`${key}_copy`] = structuredClone(parent[key] as Json);
      return `${at} copied beside itself`;
    case 'wrap':
      parent[key] = [structuredClone(parent[key] as Json)];
      return `${at} wrapped in an array`;
    case 'unknown key': {
      const target = parent[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        target[`new_field_${Math.floor(random() * 1000)}`] = structuredClone(pick(ODD_VALUES));
        return `${at} got an unknown key`;
      }
      parent[key] = { value: structuredClone(target as Json) };
      return `${at} became an object`;
    }
    default: {
      // A number as a string and the other way round, as loosely typed producers send them.
      const value = parent[key];
      if (typeof value === 'number') parent[key] = String(value);
      else if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        parent[key] = Number(value);
      else parent[key] = 42;
      return `${at} retyped`;
    }
  }
}

/**
 * The bodies of a mutation test: each one of `seeds()` (called afresh for every body, so ids and
 * times can be new) changed at one to three random places, with `where` naming the body's index,
 * the seed and the changes, for a failure message.
 */
export function* mutatedBodies(
  seeds: () => Json[],
  defaultCount: number,
  noun = 'body',
): Generator<{ body: Json; index: number; where: string }> {
  const { seed, count } = mutationRun(defaultCount);
  const random = seededRandom(seed);
  for (let index = 0; index < count; index++) {
    const all = seeds();
    const body = structuredClone(all[Math.floor(random() * all.length)] as Json);
    const changes = Array.from({ length: 1 + Math.floor(random() * 3) }, () => mutate(body, random));
    yield { body, index, where: `${noun} ${index} (seed ${seed}): ${changes.join('; ')}` };
  }
}

/** A test timeout for a mutation test that spends up to `msPerBody` on each of its bodies. */
export function mutationTimeout(defaultCount: number, msPerBody: number): number {
  return 30_000 + mutationRun(defaultCount).count * msPerBody;
}
