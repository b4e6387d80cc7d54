import type { z } from 'zod';
import { closest } from '../util/closest.ts';

type Path = readonly PropertyKey[];

/**
 * Validation issues as one line a person can act on: each names the field (`workspaces[0].name`)
 * and what is wrong with it, a missing value says "is required", and an unknown key names the
 * nearest valid one. Used for connector settings and the declarative file alike.
 *
 * @example describeIssues(configFileSchema, result.error.issues) // 'workspaces[0]: unknown key "phoneNumber" (did you mean "phoneNumbers"?)'
 */
export function describeIssues(
  schema: z.ZodType,
  issues: readonly z.core.$ZodIssue[],
  prefix: Path = [],
): string {
  return issues
    .map((issue) => {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => unknownKey(schema, [...issue.path], key, prefix)).join('; ');
      }
      return `${formatPath(path) || '(config)'}: ${issueMessage(issue)}`;
    })
    .join('; ');
}

/**
 * Keys of `value` that `schema` does not know, at any depth (objects that strip unknown keys
 * would otherwise drop a misspelled setting without a word), described like `describeIssues`.
 * Empty when every key is known.
 */
export function unknownKeys(schema: z.ZodType, value: unknown, prefix: Path = []): string[] {
  const found: string[] = [];
  const walk = (at: Path, node: unknown) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        walk([...at, index], item);
      });
      return;
    }
    const keys = keysAt(schema, at);
    for (const [key, child] of Object.entries(node)) {
      // Records (and schemas this walker cannot see into) take any key.
      if (keys !== null && !keys.includes(key)) found.push(unknownKey(schema, at, key, prefix));
      else walk([...at, key], child);
    }
  };
  walk([], value);
  return found;
}

function unknownKey(schema: z.ZodType, at: Path, key: string, prefix: Path): string {
  const near = closest(key, keysAt(schema, at) ?? []);
  const where = formatPath([...prefix, ...at]);
  return `${where ? `${where}: ` : ''}unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`;
}

/** `workspaces[0].connectors.slack.config` */
export function formatPath(path: Path): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

function issueMessage(issue: z.core.$ZodIssue): string {
  // zod says "Invalid input: expected string, received undefined" for a missing field.
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'is required';
  return issue.message.replace(/^Invalid input: /, '');
}

// zod's definitions, read to find which keys an object at a path takes. The `def` shapes are
// zod 4's public core types; only the fields read here are declared.
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  options?: readonly z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas that describe the value at `path` (several under a union). */
function schemasAt(schema: z.ZodType, path: Path): z.ZodType[] {
  let current = unwrap(schema);
  for (const part of path) {
    const next: z.ZodType[] = [];
    for (const node of current) {
      const def = defOf(node);
      if (def.type === 'object' && typeof part === 'string' && def.shape?.[part]) next.push(def.shape[part]);
      else if (def.type === 'array' && typeof part === 'number' && def.element) next.push(def.element);
      else if (def.type === 'record' && def.valueType) next.push(def.valueType);
    }
    current = next.flatMap(unwrap);
  }
  return current;
}

/** The keys an object at `path` takes, or null when any key goes (a record, or unknown ground). */
function keysAt(schema: z.ZodType, path: Path): string[] | null {
  const nodes = schemasAt(schema, path);
  const objects = nodes.filter((node) => defOf(node).type === 'object');
  if (objects.length === 0 || objects.length < nodes.filter((n) => defOf(n).type !== 'literal').length)
    return null;
  return [...new Set(objects.flatMap((node) => Object.keys(defOf(node).shape ?? {})))];
}

/** Looks through optional, default, pipe, union … to the schemas that hold the value's shape. */
function unwrap(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return def.innerType ? unwrap(def.innerType) : [];
    case 'pipe':
      return def.in ? unwrap(def.in) : [];
    case 'lazy':
      return def.getter ? unwrap(def.getter()) : [];
    case 'union':
      return (def.options ?? []).flatMap(unwrap);
    case 'intersection':
      return [...(def.left ? unwrap(def.left) : []), ...(def.right ? unwrap(def.right) : [])];
    default:
      return [schema];
  }
}
