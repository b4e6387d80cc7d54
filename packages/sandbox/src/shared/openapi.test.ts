import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadOpenApiSpec, OpenApiError, pointer } from './openapi.ts';

const dir = mkdtempSync(join(tmpdir(), 'openapi-test-'));
let fileCounter = 0;
function specFile(doc: unknown, ext: 'yaml' | 'json' = 'yaml'): string {
  const file = join(dir, `spec-${++fileCounter}.${ext}`);
  writeFileSync(file, ext === 'json' ? JSON.stringify(doc) : stringify(doc));
  return file;
}

const petStore = {
  openapi: '3.0.3',
  info: { title: 't', version: '1' },
  paths: {
    '/{version}/pets': {
      post: {
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/Pet' } },
            'text/*': { schema: { type: 'string', maxLength: 3 } },
          },
        },
        responses: {
          '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Created' } } } },
          default: { content: { 'application/json': { schema: { type: 'object', required: ['error'] } } } },
        },
      },
    },
    '/owners': {
      post: {
        requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Owner' } } } },
        responses: {},
      },
    },
    '/nobody': { get: { responses: {} } },
  },
  components: {
    schemas: {
      Pet: {
        discriminator: { propertyName: 'kind', mapping: { cat: '#/components/schemas/Cat', dog: 'Dog' } },
        oneOf: [{ $ref: '#/components/schemas/Cat' }, { $ref: '#/components/schemas/Dog' }],
      },
      Base: {
        type: 'object',
        required: ['kind', 'name'],
        properties: {
          kind: { type: 'string' },
          name: { type: 'string' },
          nickname: { type: 'string', nullable: true },
        },
      },
      Cat: {
        allOf: [
          { $ref: '#/components/schemas/Base' },
          {
            type: 'object',
            additionalProperties: false,
            properties: {
              kind: { enum: ['cat'] },
              lives: { type: 'integer', minimum: 1, exclusiveMaximum: true, maximum: 10 },
            },
          },
        ],
      },
      Dog: {
        allOf: [
          { $ref: '#/components/schemas/Base' },
          {
            type: 'object',
            required: ['good'],
            properties: {
              good: { type: 'boolean' },
              site: { type: 'string', format: 'uri' },
              chip: { type: 'string', format: 'x-chip-id' },
            },
          },
        ],
      },
      Created: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      Toy: {
        type: 'object',
        required: ['type'],
        properties: { type: { type: 'string' } },
        discriminator: { propertyName: 'type', mapping: { ball: '#/components/schemas/Ball' } },
      },
      Ball: {
        allOf: [
          { $ref: '#/components/schemas/Toy' },
          { type: 'object', required: ['diameter'], properties: { diameter: { type: 'number' } } },
        ],
      },
      Owner: {
        type: 'object',
        properties: { toys: { type: 'array', items: { $ref: '#/components/schemas/Toy' } } },
      },
    },
  },
};

const PETS = '/{version}/pets';

describe('loadOpenApiSpec', () => {
  const spec = loadOpenApiSpec(specFile(petStore));

  it('validates a request body for an operation and content type, ignoring content-type parameters', () => {
    const body = { kind: 'dog', name: 'Rex', good: true };
    expect(spec.validateRequestBody('POST', PETS, 'application/json; charset=utf-8', body)).toEqual({
      ok: true,
      errors: [],
    });
    expect(spec.validateRequestBody('post', PETS, 'text/plain', 'abcd').errors).toEqual([
      '(root) must NOT have more than 3 characters',
    ]);
  });

  it('honours a discriminator: errors are about the mapped schema only', () => {
    const result = spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'dog', name: 'Rex' });
    expect(result).toEqual({ ok: false, errors: ["(root) must have required property 'good'"] });
    expect(
      spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'cow', name: 'x' }).errors,
    ).toEqual(['/kind must be one of: "cat", "dog"']);
  });

  it('turns additionalProperties:false inside allOf into unevaluatedProperties on the whole', () => {
    // Without the rewrite, Cat would reject `name` (declared by Base), i.e. every cat.
    expect(spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'cat', name: 'Tom' }).ok).toBe(
      true,
    );
    expect(
      spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'cat', name: 'Tom', wings: 2 })
        .errors,
    ).toEqual(["(root) has unknown property 'wings'"]);
  });

  it('understands OpenAPI 3.0 nullable and boolean exclusiveMaximum', () => {
    expect(
      spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'cat', name: 'Tom', nickname: null })
        .ok,
    ).toBe(true);
    expect(
      spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'cat', name: 'Tom', lives: 10 })
        .errors,
    ).toEqual(['/lives must be < 10']);
  });

  it('checks known formats and accepts unknown ones', () => {
    const dog = { kind: 'dog', name: 'Rex', good: true, chip: 'anything goes' };
    expect(spec.validateRequestBody('POST', PETS, 'application/json', dog).ok).toBe(true);
    expect(
      spec.validateRequestBody('POST', PETS, 'application/json', { ...dog, site: 'not a uri' }).errors,
    ).toEqual(['/site must match format "uri"']);
  });

  it('dispatches a base-schema discriminator where the base is referenced, without recursing through allOf', () => {
    expect(
      spec.validateRequestBody('POST', '/owners', 'application/json', {
        toys: [{ type: 'ball', diameter: 3 }],
      }).ok,
    ).toBe(true);
    expect(
      spec.validateRequestBody('POST', '/owners', 'application/json', { toys: [{ type: 'ball' }] }).errors,
    ).toEqual(["/toys/0 must have required property 'diameter'"]);
    // Unmapped values only get the base schema.
    expect(
      spec.validateRequestBody('POST', '/owners', 'application/json', { toys: [{ type: 'kite' }] }).ok,
    ).toBe(true);
  });

  it('reports a missing required body, an unknown content type, and accepts operations without a body schema', () => {
    expect(spec.validateRequestBody('POST', PETS, 'application/json', undefined).errors).toEqual([
      '(root) request body is required',
    ]);
    expect(spec.validateRequestBody('POST', PETS, 'application/xml', '<x/>').errors[0]).toContain(
      "'application/xml' is not accepted",
    );
    expect(spec.validateRequestBody('GET', '/nobody', 'application/json', { any: 1 }).ok).toBe(true);
  });

  it('validates response bodies by status with a fallback to default', () => {
    expect(spec.validateResponseBody('POST', PETS, 200, 'application/json', { id: '1' }).ok).toBe(true);
    expect(spec.validateResponseBody('POST', PETS, 500, 'application/json', {}).errors).toEqual([
      "(root) must have required property 'error'",
    ]);
  });

  it('validates against a component schema by name', () => {
    expect(spec.validateSchema('Created', { id: 1 }).errors).toEqual(['/id must be string']);
    expect(() => spec.validateSchema('Nope', {})).toThrow(OpenApiError);
  });

  it('throws operation_not_found for an unknown operation', () => {
    expect(() => spec.validateRequestBody('PUT', PETS, 'application/json', {})).toThrow(
      expect.objectContaining({ code: 'operation_not_found' }),
    );
  });

  it('compiles each schema once and caches the loaded spec per file', () => {
    const before = spec.timings.compiled;
    spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'cat', name: 'a' });
    spec.validateRequestBody('POST', PETS, 'application/json', { kind: 'cat', name: 'b' });
    expect(spec.timings.compiled).toBe(before);
    expect(loadOpenApiSpec(spec.file)).toBe(spec);
  });

  it('returns the named request examples of an operation', () => {
    const file = specFile({
      ...petStore,
      paths: {
        '/x': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: { type: 'object' },
                  examples: { One: { value: { a: 1 } }, Two: { $ref: '#/components/examples/Two' } },
                },
              },
            },
            responses: {},
          },
        },
      },
      components: { ...petStore.components, examples: { Two: { value: { b: 2 } } } },
    });
    expect(loadOpenApiSpec(file).requestBodyExamples('POST', '/x')).toEqual({ One: { a: 1 }, Two: { b: 2 } });
  });

  it('applies patches before normalisation and fails loudly when a patch no longer applies', () => {
    const file = specFile(petStore, 'json');
    const patched = loadOpenApiSpec(file, {
      patches: [
        {
          id: 'created-id-number',
          reason: 'test',
          apply: (doc) => {
            pointer(doc, '/components/schemas/Created/properties/id').type = 'number';
          },
        },
      ],
    });
    expect(patched.validateSchema('Created', { id: 1 }).ok).toBe(true);
    expect(() =>
      loadOpenApiSpec(file, {
        patches: [{ id: 'stale', reason: 'test', apply: (doc) => pointer(doc, '/components/schemas/Gone') }],
      }),
    ).toThrow(expect.objectContaining({ code: 'patch_failed' }));
  });

  it('refuses files that are missing or not OpenAPI 3', () => {
    expect(() => loadOpenApiSpec(join(dir, 'missing.yaml'))).toThrow(
      expect.objectContaining({ code: 'spec_unreadable' }),
    );
    expect(() => loadOpenApiSpec(specFile({ swagger: '2.0' }))).toThrow(
      expect.objectContaining({ code: 'not_openapi' }),
    );
  });
});
