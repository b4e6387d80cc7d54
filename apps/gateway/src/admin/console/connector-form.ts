import { type ConnectorManifest, describeIssues } from '@wabridge/core';
import { z } from 'zod';

/**
 * A connector's settings as an HTML form, derived from its zod schema (no per-connector markup):
 * scalars become inputs (secrets: password inputs that keep the stored value when left empty),
 * enums and booleans become selects, and lists and objects (routes, tags, pacing…) a JSON text
 * area. Parsing a submitted form gives the config change and an error per field.
 */
export interface FormField {
  key: string;
  label: string;
  kind: 'text' | 'secret' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';
  options?: readonly string[];
  required: boolean;
  /** Lists and objects used for routing, shown in their own group. */
  routing: boolean;
  /** The schema's default, shown as the empty field's placeholder. */
  defaultValue?: string;
}

const ROUTING_KEYS = new Set(['routes', 'tags', 'defaultChannel', 'channelId', 'teamId']);

type JsonSchema = {
  type?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
};

const cache = new WeakMap<object, FormField[]>();

export function formFields(manifest: ConnectorManifest): FormField[] {
  const known = cache.get(manifest);
  if (known) return known;
  const schema = z.toJSONSchema(manifest.configSchema as z.ZodType, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  const required = new Set(schema.required ?? []);
  const secrets = new Set(manifest.secretFields);
  const fields = Object.entries(schema.properties ?? {}).map(([key, prop]): FormField => {
    const enumValues = prop.enum?.every((v) => typeof v === 'string') ? (prop.enum as string[]) : undefined;
    const kind: FormField['kind'] = secrets.has(key)
      ? 'secret'
      : enumValues
        ? 'enum'
        : prop.type === 'string'
          ? 'text'
          : prop.type === 'number'
            ? 'number'
            : prop.type === 'integer'
              ? 'integer'
              : prop.type === 'boolean'
                ? 'boolean'
                : 'json';
    return {
      key,
      label: labelOf(key),
      kind,
      ...(enumValues ? { options: enumValues } : {}),
      required: required.has(key),
      routing: ROUTING_KEYS.has(key) && kind === 'json',
      ...(prop.default !== undefined && kind !== 'json' ? { defaultValue: String(prop.default) } : {}),
    };
  });
  cache.set(manifest, fields);
  return fields;
}

/** `defaultChannel` → "Default channel"; `slackApiUrl` → "Slack API URL". */
export function labelOf(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(' ')
    .map((w) => (/^(Url|Api|Id|Ms)$/.test(w) ? w.toUpperCase() : w.toLowerCase()));
  const text = words.join(' ').replace(/\bMS\b/, 'ms');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export type FieldErrors = Record<string, string>;

/**
 * What the form changes: fields left empty are not part of the change (a secret left empty keeps
 * its stored value; an optional field keeps its default). Values that cannot be read (a number
 * that is not one, JSON that does not parse) are field errors before any schema check.
 */
export function readForm(
  manifest: ConnectorManifest,
  form: Record<string, string>,
): { change: Record<string, unknown>; errors: FieldErrors } {
  const change: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  for (const field of formFields(manifest)) {
    const raw = form[`cfg.${field.key}`];
    if (raw === undefined) continue;
    const text = field.kind === 'json' || field.kind === 'secret' ? raw : raw.trim();
    if (text.trim() === '') continue;
    switch (field.kind) {
      case 'number':
      case 'integer': {
        const value = Number(text);
        if (!Number.isFinite(value)) errors[field.key] = `"${text}" is not a number`;
        else change[field.key] = value;
        break;
      }
      case 'boolean':
        if (text !== 'true' && text !== 'false') errors[field.key] = 'choose yes or no';
        else change[field.key] = text === 'true';
        break;
      case 'json':
        try {
          change[field.key] = JSON.parse(text);
        } catch (error) {
          errors[field.key] = `not valid JSON: ${(error as Error).message}`;
        }
        break;
      default:
        change[field.key] = text;
    }
  }
  return { change, errors };
}

/** Schema issues of the merged settings, one sentence per field (top-level key); the rest under `_form`. */
export function schemaErrors(manifest: ConnectorManifest, merged: Record<string, unknown>): FieldErrors {
  const parsed = manifest.configSchema.safeParse(merged);
  if (parsed.success) return {};
  const errors: FieldErrors = {};
  const byKey = new Map<string, z.core.$ZodIssue[]>();
  for (const issue of parsed.error.issues) {
    const key = typeof issue.path[0] === 'string' ? issue.path[0] : '_form';
    byKey.set(key, [...(byKey.get(key) ?? []), issue]);
  }
  for (const [key, issues] of byKey) errors[key] = describeIssues(manifest.configSchema as z.ZodType, issues);
  return errors;
}
