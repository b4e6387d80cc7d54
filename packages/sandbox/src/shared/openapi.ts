/**
 * Validates payloads against a vendor's OpenAPI 3.0/3.1 document (YAML or JSON) with ajv.
 *
 * Use it from an emulator to reject what the real platform would reject, and from tests to prove
 * that what an emulator emits matches the vendor's published shapes:
 *
 *   const spec = loadOpenApiSpec(fileURLToPath(new URL('../../vendor/x.yaml', import.meta.url)));
 *   spec.validateRequestBody('POST', '/{Version}/{Phone-Number-ID}/messages', 'application/json', body);
 *   spec.validateSchema('WebhookPayload', payload);   // → { ok, errors: ['/entry/0/id must be string'] }
 *
 * Loading: the file is read and parsed once per process (cache keyed by path), patched and
 * normalised once per set of patches, and each operation's schema is compiled lazily on first use
 * and cached. `spec.timings` reports where the time went.
 *
 * Normalisation, applied to every schema before ajv sees it (ajv runs in JSON Schema 2020-12 mode,
 * non-strict, with ajv-formats; unknown formats are accepted as annotations):
 * - OpenAPI 3.0 `nullable: true` → `type: [T, 'null']` (or `anyOf [.., {type: 'null'}]`), boolean
 *   `exclusiveMinimum/Maximum` → numeric form. `example`, `xml`, `externalDocs` are ignored.
 * - `discriminator` is honoured: with `oneOf`/`anyOf` the payload is validated against the one
 *   mapped schema only (so errors are about that schema, not a wall of failed alternatives); on a
 *   base schema used with `allOf` inheritance, references to the base outside `allOf` dispatch to
 *   the mapped sub-schema.
 * - `allOf` members carrying `additionalProperties: false` (a common authoring mistake that makes
 *   the combined schema reject every property of the other members) are rewritten to
 *   `unevaluatedProperties: false` on the `allOf` owner, which is what such specs intend.
 *
 * Patches: a vendor spec can be wrong. Callers pass `patches`, each with an `id`, a `reason` and an
 * `apply(doc)` that edits the parsed document before normalisation; `apply` should throw when its
 * target is missing, so a patch that no longer applies to an updated spec fails loudly
 * (`OpenApiError` code `patch_failed`). The `pointer()`/`setAtPointer()` helpers below help write them.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON of arbitrary shape; narrowed where read.
type Json = any;

/** A parsed OpenAPI document (mutable inside `SpecPatch.apply`). */
export type OpenApiDocument = Record<string, Json>;

/** An edit to a vendor spec, applied before normalisation; `apply` throws if its target is gone. */
export interface SpecPatch {
  /** Stable identifier, e.g. `webhook-refs-point-to-webhook-schemas`. */
  id: string;
  /** Why the vendor spec is wrong here, with a source. */
  reason: string;
  apply(doc: OpenApiDocument): void;
}

export interface LoadOpenApiOptions {
  patches?: readonly SpecPatch[];
}

export interface ValidationResult {
  ok: boolean;
  /** Readable messages, e.g. `/text/body must be string`, `(root) has unknown property 'foo'`. */
  errors: string[];
}

export interface SpecTimings {
  /** Reading and parsing the file (0 when it came from the process cache). */
  parseMs: number;
  /** Cloning, patching and normalising the document. */
  prepareMs: number;
  /** Time spent compiling validators so far, and how many. */
  compileMs: number;
  compiled: number;
}

export type OpenApiErrorCode =
  | 'spec_unreadable' // file missing or not YAML/JSON
  | 'not_openapi' // parsed, but not an OpenAPI 3.x document
  | 'patch_failed' // a SpecPatch no longer applies
  | 'operation_not_found'
  | 'schema_not_found';

export class OpenApiError extends Error {
  override readonly name = 'OpenApiError';
  readonly code: OpenApiErrorCode;
  readonly retryable = false;

  constructor(code: OpenApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const SPEC_ID = 'openapi:spec';
const MAX_MESSAGES = 25;

/** A loaded, patched and normalised spec that validates payloads; obtain one with `loadOpenApiSpec`. */
export class OpenApiSpec {
  readonly file: string;
  /** `openapi` field of the document, e.g. `3.1.0`. */
  readonly version: string;
  readonly timings: SpecTimings;
  /** The patched, normalised document. Treat as read-only. */
  readonly document: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(file: string, document: OpenApiDocument, timings: Omit<SpecTimings, 'compileMs' | 'compiled'>) {
    this.file = file;
    this.document = document;
    this.version = String(document.openapi);
    this.timings = { ...timings, compileMs: 0, compiled: 0 };
    this.#ajv = new Ajv2020({
      strict: false,
      allErrors: true,
      validateSchema: false, // the document is not a JSON Schema; its schemas are checked at compile
      validateFormats: true,
      logger: false,
    });
    addFormats.default(this.#ajv);
    for (const format of collectFormats(document)) {
      if (this.#ajv.formats[format] === undefined) this.#ajv.addFormat(format, true);
    }
    this.#ajv.addSchema(document, SPEC_ID);
  }

  /** True when the spec has this operation, e.g. `hasOperation('POST', '/{Version}/{Phone-Number-ID}/messages')`. */
  hasOperation(method: string, pathTemplate: string): boolean {
    return this.#operation(method, pathTemplate) !== undefined;
  }

  /**
   * Validates a request body for an operation and content type. `contentType` may carry parameters
   * (`application/json; charset=utf-8`); wildcards in the spec (`application/*`, `*\/*`) are honoured.
   * An operation without a request body schema accepts anything.
   */
  validateRequestBody(
    method: string,
    pathTemplate: string,
    contentType: string,
    body: unknown,
  ): ValidationResult {
    const operation = this.#operation(method, pathTemplate);
    if (operation === undefined) {
      throw new OpenApiError(
        'operation_not_found',
        `No ${method.toUpperCase()} ${pathTemplate} in ${this.file}`,
      );
    }
    const requestBody = this.#deref(operation.node.requestBody, operation.pointer.concat('requestBody'));
    if (requestBody === undefined) return { ok: true, errors: [] };
    if (body === undefined) {
      return requestBody.node.required === true
        ? { ok: false, errors: ['(root) request body is required'] }
        : { ok: true, errors: [] };
    }
    const media = pickMediaType(requestBody.node.content, contentType);
    if (media === undefined) {
      const allowed = Object.keys(requestBody.node.content ?? {}).join(', ');
      return {
        ok: false,
        errors: [`(root) content type '${contentType}' is not accepted (expected ${allowed})`],
      };
    }
    const schemaNode = requestBody.node.content[media]?.schema;
    if (schemaNode === undefined) return { ok: true, errors: [] };
    return this.#validate(requestBody.pointer.concat('content', media, 'schema'), body);
  }

  /** Validates a response body for an operation, status (`200`, falls back to `2XX`, `default`) and content type. */
  validateResponseBody(
    method: string,
    pathTemplate: string,
    status: number,
    contentType: string,
    body: unknown,
  ): ValidationResult {
    const operation = this.#operation(method, pathTemplate);
    if (operation === undefined) {
      throw new OpenApiError(
        'operation_not_found',
        `No ${method.toUpperCase()} ${pathTemplate} in ${this.file}`,
      );
    }
    const responses = operation.node.responses ?? {};
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k] !== undefined);
    if (key === undefined) return { ok: false, errors: [`(root) status ${status} is not documented`] };
    const response = this.#deref(responses[key], operation.pointer.concat('responses', key));
    const media = response && pickMediaType(response.node.content, contentType);
    if (response === undefined || media === undefined || response.node.content[media]?.schema === undefined) {
      return { ok: true, errors: [] };
    }
    return this.#validate(response.pointer.concat('content', media, 'schema'), body);
  }

  /** Validates against a component schema: `'WebhookPayload'` or `'#/components/schemas/WebhookPayload'`. */
  validateSchema(nameOrRef: string, value: unknown): ValidationResult {
    const ref = nameOrRef.startsWith('#/') ? nameOrRef : `#/components/schemas/${nameOrRef}`;
    const path = parsePointer(ref.slice(1));
    if (getAtPointer(this.document, path) === undefined) {
      throw new OpenApiError('schema_not_found', `No schema at ${ref} in ${this.file}`);
    }
    return this.#validate(path, value);
  }

  /** The named request body examples of an operation (`$ref`s to `components/examples` resolved). */
  requestBodyExamples(
    method: string,
    pathTemplate: string,
    contentType = 'application/json',
  ): Record<string, unknown> {
    const operation = this.#operation(method, pathTemplate);
    const requestBody = operation && this.#deref(operation.node.requestBody, []);
    const media = requestBody && pickMediaType(requestBody.node.content, contentType);
    if (requestBody === undefined || media === undefined) return {};
    const examples: Record<string, Json> = requestBody.node.content[media]?.examples ?? {};
    const out: Record<string, unknown> = {};
    for (const [name, example] of Object.entries(examples)) {
      const resolved = this.#deref(example, []);
      if (resolved !== undefined) out[name] = resolved.node.value;
    }
    return out;
  }

  /** Validates `value` against the schema at a JSON-pointer path of the document (compiled once). */
  #validate(path: readonly string[], value: unknown): ValidationResult {
    const fragment = `#${path
      .map((p) => encodeURIComponent(escapePointer(p)))
      .join('/')
      .replace(/^(?!\/)/, '/')}`;
    let validate = this.#validators.get(fragment);
    if (validate === undefined) {
      const started = performance.now();
      validate = this.#ajv.compile({ $ref: `${SPEC_ID}${fragment}` });
      this.timings.compileMs += performance.now() - started;
      this.timings.compiled += 1;
      this.#validators.set(fragment, validate);
    }
    if (validate(value)) return { ok: true, errors: [] };
    return { ok: false, errors: formatErrors(validate.errors ?? []) };
  }

  #operation(method: string, pathTemplate: string): { node: Json; pointer: string[] } | undefined {
    const verb = method.toLowerCase();
    const node = this.document.paths?.[pathTemplate]?.[verb];
    return node === undefined ? undefined : { node, pointer: ['paths', pathTemplate, verb] };
  }

  /** Follows `$ref` chains (internal refs only) and returns the target with its pointer. */
  #deref(node: Json, pointer: string[]): { node: Json; pointer: string[] } | undefined {
    let current = node;
    let path = pointer;
    for (let hops = 0; current !== undefined && typeof current.$ref === 'string'; hops++) {
      if (hops > 32) throw new OpenApiError('schema_not_found', `$ref cycle at ${pointer.join('/')}`);
      path = refToPath(current.$ref);
      current = getAtPointer(this.document, path);
    }
    return current === undefined ? undefined : { node: current, pointer: path };
  }
}

const rawCache = new Map<string, { doc: OpenApiDocument; parseMs: number }>();
const specCache = new Map<string, OpenApiSpec>();

/**
 * Loads (once per process and set of patches) the OpenAPI document at `file`.
 * Throws `OpenApiError` (`spec_unreadable`, `not_openapi`, `patch_failed`).
 */
export function loadOpenApiSpec(file: string, options: LoadOpenApiOptions = {}): OpenApiSpec {
  let path: string;
  try {
    path = realpathSync(file);
  } catch (error) {
    throw new OpenApiError('spec_unreadable', `Cannot read OpenAPI document ${file}`, { cause: error });
  }
  const patches = options.patches ?? [];
  const key = `${path}\u0000${patches.map((p) => p.id).join('\u0000')}`;
  const cached = specCache.get(key);
  if (cached !== undefined) return cached;

  let raw = rawCache.get(path);
  let parseMs = 0;
  if (raw === undefined) {
    const started = performance.now();
    let doc: unknown;
    try {
      const text = readFileSync(path, 'utf8');
      doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: -1 });
    } catch (error) {
      throw new OpenApiError('spec_unreadable', `Cannot parse OpenAPI document ${path}`, { cause: error });
    }
    if (!isObject(doc) || typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.')) {
      throw new OpenApiError('not_openapi', `${path} is not an OpenAPI 3.x document`);
    }
    parseMs = performance.now() - started;
    raw = { doc, parseMs };
    rawCache.set(path, raw);
  }

  const started = performance.now();
  const doc = structuredClone(raw.doc);
  for (const patch of patches) {
    try {
      patch.apply(doc);
    } catch (error) {
      throw new OpenApiError(
        'patch_failed',
        `Spec patch '${patch.id}' does not apply to ${path}: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
  }
  normalizeDocument(doc);
  const spec = new OpenApiSpec(path, doc, { parseMs, prepareMs: performance.now() - started });
  specCache.set(key, spec);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// JSON pointer helpers (exported for writing SpecPatches)

/** `'#/components/schemas/X'` → `['components', 'schemas', 'X']`. */
export function refToPath(ref: string): string[] {
  if (!ref.startsWith('#'))
    throw new OpenApiError('schema_not_found', `Only internal $refs are supported: ${ref}`);
  return parsePointer(ref.slice(1));
}

function parsePointer(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'));
}

const escapePointer = (part: string): string => part.replace(/~/g, '~0').replace(/\//g, '~1');

/** Value at a path, or undefined. */
export function getAtPointer(root: unknown, path: readonly string[]): Json {
  let current: Json = root;
  for (const part of path) {
    if (!isObject(current) && !Array.isArray(current)) return undefined;
    current = (current as Json)[part];
  }
  return current;
}

/** Value at a path that must exist (for patches: throws a readable error when the spec moved on). */
export function pointer(root: unknown, path: string): Json {
  const value = getAtPointer(root, parsePointer(path.replace(/^#/, '')));
  if (value === undefined) throw new Error(`nothing at ${path}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMA_ARRAY_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SCHEMA_KEYWORDS = [
  'items',
  'additionalProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'additionalItems',
];

/** Calls `visit` for every schema object in the document, children after parents. */
function forEachSchema(doc: OpenApiDocument, visit: (schema: Json, path: string[]) => void): void {
  const walkSchema = (schema: Json, path: string[]): void => {
    if (!isObject(schema)) return;
    visit(schema, path);
    for (const keyword of SCHEMA_MAP_KEYWORDS) {
      const map = schema[keyword];
      if (isObject(map)) for (const [k, v] of Object.entries(map)) walkSchema(v, [...path, keyword, k]);
    }
    for (const keyword of SCHEMA_ARRAY_KEYWORDS) {
      const list = schema[keyword];
      if (Array.isArray(list))
        for (const [i, v] of list.entries()) walkSchema(v, [...path, keyword, String(i)]);
    }
    for (const keyword of SCHEMA_KEYWORDS) {
      const value = schema[keyword];
      if (Array.isArray(value))
        for (const [i, v] of value.entries()) walkSchema(v, [...path, keyword, String(i)]);
      else walkSchema(value, [...path, keyword]);
    }
  };
  const walkContent = (content: Json, path: string[]) => {
    if (!isObject(content)) return;
    for (const [media, mediaObject] of Object.entries(content)) {
      if (isObject(mediaObject)) walkSchema(mediaObject.schema, [...path, media, 'schema']);
    }
  };
  const walkParameterLike = (node: Json, path: string[]) => {
    if (!isObject(node)) return;
    walkSchema(node.schema, [...path, 'schema']);
    walkContent(node.content, [...path, 'content']);
  };
  const walkResponse = (node: Json, path: string[]) => {
    if (!isObject(node)) return;
    walkContent(node.content, [...path, 'content']);
    if (isObject(node.headers)) {
      for (const [name, header] of Object.entries(node.headers))
        walkParameterLike(header, [...path, 'headers', name]);
    }
  };

  const components = isObject(doc.components) ? doc.components : {};
  for (const [name, schema] of Object.entries(components.schemas ?? {})) {
    walkSchema(schema, ['components', 'schemas', name]);
  }
  for (const [name, p] of Object.entries(components.parameters ?? {})) {
    walkParameterLike(p, ['components', 'parameters', name]);
  }
  for (const [name, h] of Object.entries(components.headers ?? {})) {
    walkParameterLike(h, ['components', 'headers', name]);
  }
  for (const [name, rb] of Object.entries(components.requestBodies ?? {})) {
    if (isObject(rb)) walkContent(rb.content, ['components', 'requestBodies', name, 'content']);
  }
  for (const [name, r] of Object.entries(components.responses ?? {}))
    walkResponse(r, ['components', 'responses', name]);

  for (const [template, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    const itemPath = ['paths', template];
    if (Array.isArray(item.parameters)) {
      for (const [i, p] of (item.parameters as Json[]).entries())
        walkParameterLike(p, [...itemPath, 'parameters', String(i)]);
    }
    for (const [verb, op] of Object.entries(item)) {
      if (!isObject(op) || verb === 'parameters') continue;
      const opPath = [...itemPath, verb];
      if (Array.isArray(op.parameters)) {
        for (const [i, p] of (op.parameters as Json[]).entries())
          walkParameterLike(p, [...opPath, 'parameters', String(i)]);
      }
      if (isObject(op.requestBody))
        walkContent(op.requestBody.content, [...opPath, 'requestBody', 'content']);
      if (isObject(op.responses)) {
        for (const [status, r] of Object.entries(op.responses))
          walkResponse(r, [...opPath, 'responses', status]);
      }
    }
  }
}

/** Applies the normalisations described in the file header, in place. */
export function normalizeDocument(doc: OpenApiDocument): void {
  const schemas: Record<string, Json> = isObject(doc.components?.schemas) ? doc.components.schemas : {};
  /** Base schemas (discriminator without oneOf) split into `X` (plain) and `X__discriminated`. */
  const splitBases = new Map<string, string>();

  forEachSchema(doc, (schema, path) => {
    normalizeOpenApi30(schema);
    if (isObject(schema.discriminator)) {
      const isComponent = path.length === 3 && path[0] === 'components' && path[1] === 'schemas';
      const name = path[2] ?? '';
      const dispatched = rewriteDiscriminator(schema);
      if (!dispatched && isComponent && !name.endsWith('__discriminated')) {
        // A base schema: its sub-schemas include it through allOf, so dispatching inside the base
        // itself would recurse. References from elsewhere are redirected to a dispatching wrapper.
        const wrapperName = `${name}__discriminated`;
        schemas[wrapperName] = {
          allOf: [{ $ref: `#/components/schemas/${name}` }, ...dispatchBranches(schema.discriminator)],
        };
        splitBases.set(`#/components/schemas/${name}`, `#/components/schemas/${wrapperName}`);
        delete schema.discriminator;
      } else if (!dispatched) {
        schema.allOf = [
          ...(Array.isArray(schema.allOf) ? schema.allOf : []),
          ...dispatchBranches(schema.discriminator),
        ];
        delete schema.discriminator;
      }
    }
    hoistAllOfAdditionalProperties(schema);
  });

  if (splitBases.size > 0) {
    forEachSchema(doc, (schema) => {
      for (const keyword of Object.keys(schema)) {
        if (keyword === 'allOf') continue; // inheritance keeps pointing at the plain base
        redirectRef(schema[keyword], splitBases);
        if (Array.isArray(schema[keyword])) for (const item of schema[keyword]) redirectRef(item, splitBases);
        else if (isObject(schema[keyword]) && SCHEMA_MAP_KEYWORDS.includes(keyword)) {
          for (const child of Object.values(schema[keyword])) redirectRef(child, splitBases);
        }
      }
    });
    // Top-level uses: request/response bodies and parameters that point straight at a base.
    const redirectTopLevel = (node: Json) => {
      if (isObject(node) && typeof node.$ref === 'string') redirectRef(node, splitBases);
    };
    for (const item of Object.values(isObject(doc.paths) ? doc.paths : {})) {
      if (!isObject(item)) continue;
      for (const op of Object.values(item)) {
        if (!isObject(op)) continue;
        for (const media of Object.values(op.requestBody?.content ?? {}))
          redirectTopLevel((media as Json)?.schema);
        for (const response of Object.values(op.responses ?? {})) {
          for (const media of Object.values((response as Json)?.content ?? {}))
            redirectTopLevel((media as Json)?.schema);
        }
      }
    }
  }
}

function redirectRef(node: Json, redirects: Map<string, string>): void {
  if (!isObject(node) || typeof node.$ref !== 'string') return;
  const target = redirects.get(node.$ref);
  if (target !== undefined) node.$ref = target;
}

function normalizeOpenApi30(schema: Json): void {
  if (schema.nullable === true) {
    delete schema.nullable;
    if (typeof schema.type === 'string') schema.type = [schema.type, 'null'];
    else if (Array.isArray(schema.type)) {
      if (!schema.type.includes('null')) schema.type.push('null');
    } else {
      const inner = { ...schema };
      for (const key of Object.keys(schema)) delete schema[key];
      schema.anyOf = [inner, { type: 'null' }];
      return;
    }
    if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum.push(null);
  } else if (schema.nullable === false) {
    delete schema.nullable;
  }
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (schema[flag] === true && typeof schema[bound] === 'number') {
      schema[flag] = schema[bound];
      delete schema[bound];
    } else if (schema[flag] === false) {
      delete schema[flag];
    }
  }
}

/** `discriminator` + `oneOf`/`anyOf` of `$ref`s → validate against the mapped schema only. */
function rewriteDiscriminator(schema: Json): boolean {
  const alternatives: Json[] | undefined = schema.oneOf ?? schema.anyOf;
  if (!Array.isArray(alternatives)) return false;
  if (!alternatives.every((a) => isObject(a) && typeof a.$ref === 'string')) {
    delete schema.discriminator; // inline alternatives: plain oneOf semantics
    return true;
  }
  const discriminator = schema.discriminator;
  const mapping: Record<string, string> = { ...(discriminator.mapping ?? {}) };
  const mapped = new Set(Object.values(mapping).map(normalizeMappingRef));
  for (const alternative of alternatives) {
    const ref: string = alternative.$ref;
    if (!mapped.has(ref)) mapping[ref.split('/').pop() ?? ref] = ref;
  }
  const property: string = discriminator.propertyName;
  delete schema.discriminator;
  delete schema.oneOf;
  delete schema.anyOf;
  schema.allOf = [
    ...(Array.isArray(schema.allOf) ? schema.allOf : []),
    { type: 'object', required: [property], properties: { [property]: { enum: Object.keys(mapping) } } },
    ...dispatchBranches({ propertyName: property, mapping }),
  ];
  return true;
}

function dispatchBranches(discriminator: Json): Json[] {
  const property: string = discriminator.propertyName;
  return Object.entries<string>(discriminator.mapping ?? {}).map(([value, ref]) => ({
    if: { type: 'object', required: [property], properties: { [property]: { const: value } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable.
    then: { $ref: normalizeMappingRef(ref) },
  }));
}

const normalizeMappingRef = (ref: string): string =>
  ref.startsWith('#') ? ref : `#/components/schemas/${ref}`;

function hoistAllOfAdditionalProperties(schema: Json): void {
  if (!Array.isArray(schema.allOf)) return;
  let hoisted = false;
  for (const member of schema.allOf) {
    if (isObject(member) && member.$ref === undefined && member.additionalProperties === false) {
      delete member.additionalProperties;
      hoisted = true;
    }
  }
  if (hoisted && schema.unevaluatedProperties === undefined) schema.unevaluatedProperties = false;
}

function collectFormats(doc: OpenApiDocument): Set<string> {
  const formats = new Set<string>();
  forEachSchema(doc, (schema) => {
    if (typeof schema.format === 'string') formats.add(schema.format);
  });
  return formats;
}

function pickMediaType(content: Json, contentType: string): string | undefined {
  if (!isObject(content)) return undefined;
  const wanted = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const keys = Object.keys(content);
  const exact = keys.find((k) => k.toLowerCase() === wanted);
  if (exact !== undefined) return exact;
  const [type] = wanted.split('/');
  return keys.find((k) => k.toLowerCase() === `${type}/*`) ?? keys.find((k) => k === '*/*');
}

// ---------------------------------------------------------------------------------------------
// Error messages

function formatErrors(errors: readonly ErrorObject[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.keyword === 'if') continue; // the failing `then` branch reports the real problem
    const where = error.instancePath === '' ? '(root)' : error.instancePath;
    const line = `${where} ${describe(error)}`;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(line);
    if (out.length === MAX_MESSAGES) {
      out.push(`… ${errors.length - MAX_MESSAGES} more`);
      break;
    }
  }
  return out;
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `has unknown property '${String(params.additionalProperty)}'`;
    case 'unevaluatedProperties':
      return `has unknown property '${String(params.unevaluatedProperty)}'`;
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'oneOf':
      return params.passingSchemas === null
        ? 'must match exactly one of the alternatives (matches none)'
        : 'must match exactly one of the alternatives (matches several)';
    default:
      return error.message ?? error.keyword;
  }
}

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
