/**
 * Slack's published specs, vendored under `vendor/slack` (MIT, `slackapi/slack-api-specs`):
 *
 * - `web-api-openapi-v2.json` is Swagger 2.0 (the shared OpenAPI loader only reads 3.x), and Slack
 *   methods take form fields, not JSON bodies: each operation lists its `formData`/`query`
 *   parameters with a type and a `required` flag. `checkWebApiRequest` enforces exactly that for the
 *   methods the spec covers: required fields present, booleans/numbers/integers well-formed, and the
 *   fields the spec documents as "JSON-based array … presented as a URL-encoded string" parseable.
 *   Unknown fields are accepted, as Slack does (the spec predates `metadata`, `team_id` …).
 *   `files.getUploadURLExternal` / `files.completeUploadExternal` are not in this spec; the emulator
 *   checks them from Slack's method pages instead (see `api.ts`).
 * - `event-wrapper-schema.json` (JSON Schema draft-07) describes every Events API envelope, and the
 *   AsyncAPI document's `message` topic was generated from a `message_deleted` event (one patch,
 *   below); events the emulator sends are validated against what applies, so a receiver is tested
 *   on Slack's shapes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

const VENDOR = new URL('../../vendor/slack/', import.meta.url);

interface SwaggerParameter {
  name: string;
  in: 'formData' | 'query' | 'header' | 'body' | 'path';
  type?: 'string' | 'boolean' | 'integer' | 'number' | 'array';
  required?: boolean;
  description?: string;
}

interface MethodSpec {
  parameters: SwaggerParameter[];
  responses: { ok?: Record<string, unknown>; error?: Record<string, unknown> };
}

let methods: Map<string, MethodSpec> | undefined;
let definitions: Record<string, unknown> = {};

function loadMethods(): Map<string, MethodSpec> {
  if (methods) return methods;
  const doc = JSON.parse(readFileSync(fileURLToPath(new URL('web-api-openapi-v2.json', VENDOR)), 'utf8')) as {
    swagger: string;
    definitions?: Record<string, unknown>;
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: SwaggerParameter[];
          responses?: Record<string, { schema?: Record<string, unknown> }>;
        }
      >
    >;
  };
  if (doc.swagger !== '2.0')
    throw new Error('vendor/slack/web-api-openapi-v2.json is not the Swagger 2.0 spec');
  definitions = doc.definitions ?? {};
  methods = new Map();
  for (const [path, operations] of Object.entries(doc.paths)) {
    const operation = Object.values(operations)[0];
    if (operation) {
      methods.set(path.replace(/^\//, ''), {
        parameters: operation.parameters ?? [],
        responses: {
          ...(operation.responses?.['200']?.schema ? { ok: operation.responses['200'].schema } : {}),
          ...(operation.responses?.default?.schema ? { error: operation.responses.default.schema } : {}),
        },
      });
    }
  }
  applyResponsePatches(methods);
  return methods;
}

/**
 * Where Slack's published response schemas lag behind its method pages. Each patch names its
 * evidence and fails loudly when the part of the schema it fixes is gone.
 */
function applyResponsePatches(all: Map<string, MethodSpec>): void {
  const schema = (method: string, which: 'ok' | 'error') => {
    const found = all.get(method)?.responses[which] as
      | { properties?: Record<string, Record<string, unknown>> }
      | undefined;
    if (!found?.properties)
      throw new Error(`web-api-openapi-v2.json: ${method} has no ${which} schema to patch`);
    return found.properties;
  };
  // auth.test names the Grid organization and, for a rotating token, its remaining life
  // (docs.slack.dev/reference/methods/auth.test: "you'll also find their enterprise_id here";
  // @slack/web-api's AuthTestResponse has enterprise_id, expires_in, app_id, app_name).
  const authTest = schema('auth.test', 'ok');
  authTest.enterprise_id = { type: 'string' };
  authTest.expires_in = { type: 'integer' };
  authTest.app_id = { type: 'string' };
  authTest.app_name = { type: 'string' };
  // An org-wide token belongs to no workspace; the emulator answers with the organization's id
  // (the schema's `^T…` pattern predates org-wide apps; which id Slack puts here is unverified).
  authTest.team_id = { type: 'string', pattern: '^[TE][A-Z0-9]{2,}$' };
  // Token rotation adds `token_expired` to every method's errors
  // (docs.slack.dev/authentication/using-token-rotation).
  for (const method of ['auth.test', 'auth.revoke', 'apps.uninstall']) {
    const error = schema(method, 'error').error as { enum?: string[] } | undefined;
    if (!Array.isArray(error?.enum)) throw new Error(`web-api-openapi-v2.json: ${method} errors are no enum`);
    error.enum.push('token_expired');
  }
}

/** Methods whose answers the emulator checks against the spec's response schemas (its OAuth surface). */
const RESPONSE_CHECKED = new Set(['auth.test', 'auth.revoke', 'apps.uninstall', 'oauth.v2.access']);
const responseValidators = new Map<string, ValidateFunction>();

/**
 * Checks an answer of a method in `RESPONSE_CHECKED` against the spec's success or error schema.
 * Returns problems (empty when valid or not checked).
 */
export function checkWebApiResponse(method: string, body: Record<string, unknown>): string[] {
  if (!RESPONSE_CHECKED.has(method)) return [];
  const which = body.ok === true ? 'ok' : 'error';
  const key = `${method} ${which}`;
  let validate = responseValidators.get(key);
  if (!validate) {
    const schema = loadMethods().get(method)?.responses[which];
    if (!schema) return [];
    const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
    validate = ajv.compile({ ...schema, definitions });
    responseValidators.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
}

/** True when Slack's Web API spec documents `method`. */
export function specCovers(method: string): boolean {
  return loadMethods().has(method);
}

const JSON_DESCRIPTION = /JSON-based|JSON array|JSON object|URL-encoded string/i;

/**
 * Checks a Web API call's arguments (form fields, query or JSON body, merged) against the spec.
 * Returns Slack-style `[ERROR] …` messages; empty when the call is valid or the method is not covered.
 */
export function checkWebApiRequest(method: string, args: Record<string, unknown>): string[] {
  const spec = loadMethods().get(method);
  if (!spec) return [];
  const errors: string[] = [];
  for (const parameter of spec.parameters) {
    // The spec models the token as a `token` header; Slack takes `Authorization: Bearer` (checked by
    // the emulator's auth step) or a `token` field.
    if (parameter.name === 'token' || parameter.in === 'header' || parameter.in === 'path') continue;
    const value = args[parameter.name];
    if (value === undefined || value === null || value === '') {
      if (parameter.required) errors.push(`[ERROR] missing required field: ${parameter.name}`);
      continue;
    }
    const problem = checkType(parameter, value);
    if (problem) errors.push(`[ERROR] ${problem} [json-pointer:/${parameter.name}]`);
  }
  return errors;
}

function checkType(parameter: SwaggerParameter, value: unknown): string | null {
  const text = typeof value === 'string' ? value : undefined;
  switch (parameter.type) {
    case 'boolean':
      if (typeof value === 'boolean') return null;
      return text !== undefined && /^(true|false|1|0)$/i.test(text)
        ? null
        : `${parameter.name} must be a boolean`;
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return null;
      return text !== undefined && /^-?\d+$/.test(text) ? null : `${parameter.name} must be an integer`;
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return null;
      return text !== undefined && text.trim() !== '' && Number.isFinite(Number(text))
        ? null
        : `${parameter.name} must be a number`;
    default: {
      // A JSON body may carry structured values where the form would carry their JSON text.
      if (typeof value === 'object') {
        return JSON_DESCRIPTION.test(parameter.description ?? '')
          ? null
          : `${parameter.name} must be a string`;
      }
      if (text !== undefined && JSON_DESCRIPTION.test(parameter.description ?? '')) {
        try {
          JSON.parse(text);
        } catch {
          return `${parameter.name} must be JSON`;
        }
      }
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        return `${parameter.name} must be a string`;
      }
      return null;
    }
  }
}

let eventValidators: { wrapper: ValidateFunction; messageDeleted: ValidateFunction } | undefined;

function loadEventValidators() {
  if (eventValidators) return eventValidators;
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
  const wrapper = JSON.parse(
    readFileSync(fileURLToPath(new URL('event-wrapper-schema.json', VENDOR)), 'utf8'),
  );
  const asyncapi = JSON.parse(
    readFileSync(fileURLToPath(new URL('events-api-asyncapi-v1.json', VENDOR)), 'utf8'),
  ) as { topics: Record<string, { subscribe: { payload: Record<string, unknown> } }> };
  const messageTopic = asyncapi.topics.message?.subscribe.payload;
  if (!messageTopic) throw new Error('vendor/slack/events-api-asyncapi-v1.json has no `message` topic');
  // Patch: the topic was generated from the deletion of a file comment, so it requires
  // `previous_message.file` and `.comment`; a deleted plain message has neither
  // (docs.slack.dev/reference/events/message/message_deleted). Only that requirement is dropped.
  const previous = (
    messageTopic as {
      properties?: { event?: { properties?: { previous_message?: Record<string, unknown> } } };
    }
  ).properties?.event?.properties?.previous_message;
  if (!previous || !Array.isArray(previous.required)) {
    throw new Error(
      'events-api-asyncapi-v1.json changed: message.previous_message.required is gone; review the patch',
    );
  }
  delete previous.required;
  const { $schema: _ignored, ...wrapperSchema } = wrapper as Record<string, unknown>;
  eventValidators = { wrapper: ajv.compile(wrapperSchema), messageDeleted: ajv.compile(messageTopic) };
  return eventValidators;
}

/** Validates an `event_callback` envelope against the Events API schemas that apply to it. */
export function checkEventEnvelope(envelope: Record<string, unknown>): string[] {
  const { wrapper, messageDeleted } = loadEventValidators();
  const errors: string[] = [];
  if (!wrapper(envelope))
    errors.push(...(wrapper.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`));
  const event = envelope.event as { type?: string; subtype?: string } | undefined;
  if (event?.type === 'message' && event.subtype === 'message_deleted' && !messageDeleted(envelope)) {
    errors.push(...(messageDeleted.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`));
  }
  return errors;
}
