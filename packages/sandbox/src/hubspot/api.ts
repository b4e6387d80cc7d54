/**
 * The HubSpot API over HTTP, shaped as `@hubspot/api-client` calls it with `basePath` pointing here:
 *
 *   /crm/v3/objects/{type}[/{id}]                      basic create / read / update / archive
 *   /crm/v3/objects/{type}/batch/{create|read|update|upsert|archive}   ≤ 100 inputs
 *   /crm/v3/objects/{type}/search                      (see search.ts)
 *   /crm/v3/properties/{type}[/{name}], …/batch/{read|create}, …/groups[/{name}]
 *   /crm/v4/associations/{from}/{to}/batch/{read|create|associate/default}
 *   /crm/v4/objects/{from}/{id}/associations/{to}[/…]
 *   /files/v3/files                                    multipart upload (served back under /_files)
 *   /account-info/v3/details                           the portal the token belongs to
 *
 * Every request is authenticated (Bearer token), may be hit by an injected failure or outage, is
 * counted against the portal's limits, and is recorded in the ledger as `api.call` with the number
 * of records it read or wrote. Batch writes are all-or-nothing unless every input carries an
 * `objectWriteTraceId`, in which case failed inputs come back as a 207 multi-status answer.
 * Batch results are not in input order (HubSpot does not promise it): clients match them by
 * `objectWriteTraceId` or by their own properties.
 */
import { Hono } from 'hono';
import type { HubSpotCore } from './core.ts';
import { type AssociationInput, type CrmObject, defaultAssociationType, singular } from './crm.ts';
import { HubSpotApiError, hubspotErrors, type StandardError, standardError } from './errors.ts';
import { propertyJson } from './properties.ts';
import { type SearchRequest, search } from './search.ts';
import { OBJECT_TYPE_IDS, type ObjectType } from './types.ts';

interface Answer {
  status: number;
  body?: unknown;
  records: number;
  headers?: Record<string, string>;
}

type Handler = (c: {
  params: Record<string, string>;
  query: URLSearchParams;
  body: () => Promise<Record<string, unknown>>;
  form: () => Promise<Record<string, string | File>>;
}) => Answer | Promise<Answer>;

const MAX_BATCH = 100;

const DEFAULT_READ_PROPERTIES: Record<ObjectType, string[]> = {
  contacts: ['firstname', 'lastname', 'email', 'createdate', 'lastmodifieddate', 'hs_object_id'],
  communications: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  deals: ['dealname', 'amount', 'dealstage', 'pipeline', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  tickets: [
    'subject',
    'hs_pipeline',
    'hs_pipeline_stage',
    'createdate',
    'hs_lastmodifieddate',
    'hs_object_id',
  ],
  companies: ['name', 'domain', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
};

/** The Files API's `options` field (JSON): access and duplicate handling. */
function parseFileOptions(raw: unknown): {
  duplicateValidationStrategy?: string;
  duplicateValidationScope?: string;
} {
  if (typeof raw !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    throw hubspotErrors.validation('options must be a JSON object.');
  }
}

export function createHubSpotApi(core: HubSpotCore): Hono {
  const app = new Hono();
  const { crm } = core;

  const route = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, handler: Handler) => {
    app.on(method, path, async (c) => {
      const url = new URL(c.req.url);
      const kind = url.pathname.endsWith('/search') ? 'search' : 'general';
      const record = (status: number, records: number) =>
        core.record({
          kind: 'api.call',
          method,
          path: url.pathname,
          status,
          records,
        });
      const fail = (error: HubSpotApiError, records = 0) => {
        record(error.status, records);
        if (error.status === 429 && error.body.policyName) {
          core.record({
            kind: 'api.rate_limited',
            policy: error.body.policyName,
            path: url.pathname,
          });
        }
        return c.json(error.body, error.status as 400, error.headers);
      };
      const auth = core.checkAuth(c.req.header('authorization'));
      if (!auth.ok) return fail(core.authError(auth));
      const failure = core.takeFailure(url.pathname);
      if (failure && failure !== 'lost_response') return fail(core.failureError(failure));
      if (core.chaos?.throttle())
        return fail(hubspotErrors.rateLimited('TEN_SECONDLY_ROLLING', core.chaos.retryAfterSeconds * 1000));
      let headers: Record<string, string>;
      try {
        headers = core.limits.admit(kind);
      } catch (error) {
        if (error instanceof HubSpotApiError) return fail(error);
        throw error;
      }
      let answer: Answer;
      try {
        answer = await core.asSource(auth.source, () =>
          handler({
            params: c.req.param() as Record<string, string>,
            query: url.searchParams,
            body: async () => {
              try {
                const parsed: unknown = await c.req.json();
                if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
                return parsed as Record<string, unknown>;
              } catch {
                throw hubspotErrors.validation(
                  'Invalid input JSON on line 1: the body must be a JSON object.',
                );
              }
            },
            form: async () => {
              try {
                return (await c.req.parseBody()) as Record<string, string | File>;
              } catch {
                throw hubspotErrors.validation('Expected a multipart/form-data body.');
              }
            },
          }),
        );
      } catch (error) {
        if (error instanceof HubSpotApiError) return fail(error);
        throw error;
      }
      if (failure === 'lost_response') return fail(hubspotErrors.badGateway(), answer.records);
      record(answer.status, answer.records);
      const all = { ...headers, ...answer.headers };
      if (answer.body === undefined) return c.body(null, answer.status as 204, all);
      return c.json(answer.body, answer.status as 200, all);
    });
  };

  const typeOf = (name: string | undefined): ObjectType => {
    const type = OBJECT_TYPE_IDS[name ?? ''] ?? (name as ObjectType);
    if (!crm.objects.has(type)) throw hubspotErrors.notFound(`Unknown object type: ${name}`);
    return type;
  };

  const view = (object: CrmObject, properties: string[] | 'all' | null) => {
    const names =
      properties === 'all'
        ? Object.keys(object.properties)
        : [...new Set([...(properties ?? DEFAULT_READ_PROPERTIES[object.type]), 'hs_object_id'])];
    const picked: Record<string, string | null> = {};
    for (const name of names) picked[name] = object.properties[name] ?? null;
    return {
      id: object.id,
      properties: picked,
      createdAt: new Date(object.createdAt).toISOString(),
      updatedAt: new Date(object.updatedAt).toISOString(),
      archived: object.archived,
      ...(object.archivedAt ? { archivedAt: new Date(object.archivedAt).toISOString() } : {}),
    };
  };

  const listParam = (query: URLSearchParams, name: string): string[] | null => {
    const values = query
      .getAll(name)
      .flatMap((v) => v.split(','))
      .filter(Boolean);
    return values.length > 0 ? values : null;
  };

  const inputsOf = (body: Record<string, unknown>): Record<string, unknown>[] => {
    const inputs = body.inputs;
    if (!Array.isArray(inputs)) throw hubspotErrors.validation('inputs must be an array.');
    if (inputs.length > MAX_BATCH) {
      throw hubspotErrors.validation(
        `Batch input limit exceeded: ${inputs.length} inputs, at most ${MAX_BATCH}.`,
      );
    }
    return inputs as Record<string, unknown>[];
  };

  /**
   * Runs a batch write. All-or-nothing unless every input has an `objectWriteTraceId`; then each
   * input succeeds or fails alone and failures come back in `errors` (207).
   */
  const batchWrite = <R>(
    inputs: Record<string, unknown>[],
    prepare: (input: Record<string, unknown>) => () => R,
    successStatus: number,
  ): Answer => {
    const startedAt = new Date(core.clock.now()).toISOString();
    const traced = inputs.length > 0 && inputs.every((i) => typeof i.objectWriteTraceId === 'string');
    const results: R[] = [];
    const errors: StandardError[] = [];
    if (traced) {
      for (const input of inputs) {
        try {
          results.push(prepare(input)());
        } catch (error) {
          if (!(error instanceof HubSpotApiError)) throw error;
          errors.push(standardError(error, { objectWriteTraceId: [String(input.objectWriteTraceId)] }));
        }
      }
    } else {
      // Validate everything first so that a refused batch changes nothing.
      const ready = inputs.map(prepare);
      for (const apply of ready) results.push(apply());
    }
    results.reverse();
    const body = {
      status: 'COMPLETE',
      results,
      startedAt,
      completedAt: new Date(core.clock.now()).toISOString(),
      ...(errors.length > 0 ? { errors, numErrors: errors.length } : {}),
    };
    return { status: errors.length > 0 ? 207 : successStatus, body, records: inputs.length };
  };

  /** Unique values claimed by earlier inputs of the same all-or-nothing batch. */
  const batchUniques = () => {
    const seen = new Map<string, number>();
    return (type: ObjectType, properties: Record<string, string>) => {
      for (const [name, value] of Object.entries(properties)) {
        if (value === '' || !crm.property(type, name)?.hasUniqueValue) continue;
        const key = `${name}\u0000${value}`;
        if (seen.has(key)) {
          throw hubspotErrors.validation(`Duplicate ${name}=${value} in the same batch.`, [
            { message: `Duplicate value for unique property ${name}`, code: 'DUPLICATE_UNIQUE_VALUE' },
          ]);
        }
        seen.set(key, 1);
      }
    };
  };

  const propertiesOf = (input: Record<string, unknown>): Record<string, unknown> => {
    const properties = input.properties;
    if (properties !== undefined && (typeof properties !== 'object' || properties === null)) {
      throw hubspotErrors.validation('properties must be an object.');
    }
    return (properties ?? {}) as Record<string, unknown>;
  };

  const notFound = (type: ObjectType, ids: string[]) =>
    hubspotErrors.notFound(
      `Could not get some ${singular(type).toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`,
      { ids },
    );

  // --- Objects -----------------------------------------------------------------------------------

  route('POST', '/crm/v3/objects/:type/search', async ({ params, body }) => {
    const type = typeOf(params.type);
    const request = (await body()) as SearchRequest;
    const result = search(crm, type, request);
    const properties = request.properties && request.properties.length > 0 ? request.properties : null;
    return {
      status: 200,
      records: result.results.length,
      body: {
        total: result.total,
        results: result.results.map(({ object, view: indexed }) =>
          view({ ...object, properties: indexed }, properties),
        ),
        ...(result.after ? { paging: { next: { after: result.after, link: '' } } } : {}),
      },
    };
  });

  route('POST', '/crm/v3/objects/:type/batch/create', async ({ params, body }) => {
    const type = typeOf(params.type);
    const inputs = inputsOf(await body());
    const unique = batchUniques();
    return batchWrite(
      inputs,
      (input) => {
        const properties = crm.validate(type, propertiesOf(input), null);
        unique(type, properties);
        const associations = crm.validateAssociations(
          type,
          input.associations as AssociationInput[] | undefined,
        );
        return () => {
          const object = crm.create(type, properties, core.apiSource, associations);
          return {
            ...view(object, 'all'),
            ...(typeof input.objectWriteTraceId === 'string'
              ? { objectWriteTraceId: input.objectWriteTraceId }
              : {}),
          };
        };
      },
      201,
    );
  });

  route('POST', '/crm/v3/objects/:type/batch/upsert', async ({ params, body }) => {
    const type = typeOf(params.type);
    const inputs = inputsOf(await body());
    const unique = batchUniques();
    return batchWrite(
      inputs,
      (input) => {
        const idProperty = String(input.idProperty ?? '');
        const def = crm.property(type, idProperty);
        if (!def?.hasUniqueValue) {
          throw hubspotErrors.validation(
            `idProperty ${idProperty || '(missing)'} must be a property with unique values.`,
          );
        }
        const id = String(input.id ?? '');
        if (id === '') throw hubspotErrors.validation('id must not be empty.');
        const existing = crm.find(type, id, idProperty) ?? null;
        const properties = crm.validate(type, { ...propertiesOf(input), [idProperty]: id }, existing);
        unique(type, { [idProperty]: id });
        return () => {
          const object = existing
            ? crm.update(existing, properties, core.apiSource)
            : crm.create(type, properties, core.apiSource);
          return {
            ...view(object, 'all'),
            new: existing === null,
            ...(typeof input.objectWriteTraceId === 'string'
              ? { objectWriteTraceId: input.objectWriteTraceId }
              : {}),
          };
        };
      },
      200,
    );
  });

  route('POST', '/crm/v3/objects/:type/batch/update', async ({ params, body }) => {
    const type = typeOf(params.type);
    const inputs = inputsOf(await body());
    const unique = batchUniques();
    return batchWrite(
      inputs,
      (input) => {
        const id = String(input.id ?? '');
        const object = crm.find(type, id, input.idProperty as string | undefined);
        if (!object) throw notFound(type, [id]);
        const properties = crm.validate(type, propertiesOf(input), object);
        unique(type, properties);
        return () => {
          crm.update(object, properties, core.apiSource);
          return {
            ...view(object, 'all'),
            ...(typeof input.objectWriteTraceId === 'string'
              ? { objectWriteTraceId: input.objectWriteTraceId }
              : {}),
          };
        };
      },
      200,
    );
  });

  route('POST', '/crm/v3/objects/:type/batch/read', async ({ params, query, body }) => {
    const type = typeOf(params.type);
    const request = await body();
    const inputs = inputsOf(request);
    const idProperty = typeof request.idProperty === 'string' ? request.idProperty : undefined;
    if (idProperty && idProperty !== 'hs_object_id' && !crm.property(type, idProperty)?.hasUniqueValue) {
      throw hubspotErrors.validation(`idProperty ${idProperty} must be a property with unique values.`);
    }
    const archived = query.get('archived') === 'true';
    const properties = Array.isArray(request.properties) ? (request.properties as string[]) : null;
    const found = new Map<string, CrmObject>();
    const missing: string[] = [];
    for (const input of inputs) {
      const id = String(input.id ?? '');
      const object = archived ? crm.archived(type, id) : crm.find(type, id, idProperty);
      if (object) found.set(object.id, object);
      else missing.push(id);
    }
    const results = [...found.values()].map((o) => view(o, properties)).reverse();
    const now = new Date(core.clock.now()).toISOString();
    const errors = missing.length > 0 ? [standardError(notFound(type, missing), { ids: missing })] : [];
    return {
      status: errors.length > 0 ? 207 : 200,
      records: inputs.length,
      body: {
        status: 'COMPLETE',
        results,
        startedAt: now,
        completedAt: now,
        ...(errors.length > 0 ? { errors, numErrors: errors.length } : {}),
      },
    };
  });

  route('POST', '/crm/v3/objects/:type/batch/archive', async ({ params, body }) => {
    const type = typeOf(params.type);
    const inputs = inputsOf(await body());
    for (const input of inputs) {
      const object = crm.get(type, String(input.id ?? ''));
      if (!object) continue;
      if (type === 'contacts') crm.deleteContact(object.id, false, core.apiSource);
      else crm.archive(object, core.apiSource);
    }
    return { status: 204, records: inputs.length };
  });

  route('POST', '/crm/v3/objects/:type', async ({ params, body }) => {
    const type = typeOf(params.type);
    const input = await body();
    const properties = crm.validate(type, propertiesOf(input), null);
    const associations = crm.validateAssociations(type, input.associations as AssociationInput[] | undefined);
    const object = crm.create(type, properties, core.apiSource, associations);
    return { status: 201, records: 1, body: view(object, 'all') };
  });

  route('GET', '/crm/v3/objects/:type', ({ params, query }) => {
    const type = typeOf(params.type);
    const limit = Math.min(100, Number(query.get('limit') ?? 10));
    const after = Number(query.get('after') ?? 0);
    const all = crm.list(type).sort((a, b) => Number(a.id) - Number(b.id));
    const page = all.slice(after, after + limit);
    return {
      status: 200,
      records: page.length,
      body: {
        results: page.map((o) => view(o, listParam(query, 'properties'))),
        ...(after + limit < all.length
          ? { paging: { next: { after: String(after + limit), link: '' } } }
          : {}),
      },
    };
  });

  route('GET', '/crm/v3/objects/:type/:id', ({ params, query }) => {
    const type = typeOf(params.type);
    const id = params.id ?? '';
    const object =
      query.get('archived') === 'true'
        ? crm.archived(type, id)
        : crm.find(type, id, query.get('idProperty') ?? undefined);
    if (!object) throw hubspotErrors.notFound(`No ${singular(type)} with id ${id}`);
    return { status: 200, records: 1, body: view(object, listParam(query, 'properties')) };
  });

  route('PATCH', '/crm/v3/objects/:type/:id', async ({ params, query, body }) => {
    const type = typeOf(params.type);
    const id = params.id ?? '';
    const object = crm.find(type, id, query.get('idProperty') ?? undefined);
    if (!object) throw hubspotErrors.notFound(`No ${singular(type)} with id ${id}`);
    const properties = crm.validate(type, propertiesOf(await body()), object);
    crm.update(object, properties, core.apiSource);
    return { status: 200, records: 1, body: view(object, 'all') };
  });

  route('DELETE', '/crm/v3/objects/:type/:id', ({ params }) => {
    const type = typeOf(params.type);
    const object = crm.get(type, params.id ?? '');
    if (object) {
      if (type === 'contacts') crm.deleteContact(object.id, false, core.apiSource);
      else crm.archive(object, core.apiSource);
    }
    return { status: 204, records: 1 };
  });

  // --- Properties and groups ---------------------------------------------------------------------

  route('GET', '/crm/v3/properties/:type/groups', ({ params }) => {
    const type = typeOf(params.type);
    const groups = [...(crm.groups.get(type)?.values() ?? [])];
    return { status: 200, records: groups.length, body: { results: groups } };
  });

  route('GET', '/crm/v3/properties/:type/groups/:name', ({ params }) => {
    const type = typeOf(params.type);
    const group = crm.groups.get(type)?.get(params.name ?? '');
    if (!group) throw hubspotErrors.notFound(`Unable to find property group ${params.name}`);
    return { status: 200, records: 1, body: group };
  });

  route('POST', '/crm/v3/properties/:type/groups', async ({ params, body }) => {
    const type = typeOf(params.type);
    const input = await body();
    const group = crm.createGroup(type, {
      name: String(input.name ?? ''),
      label: String(input.label ?? input.name ?? ''),
      ...(typeof input.displayOrder === 'number' ? { displayOrder: input.displayOrder } : {}),
    });
    return { status: 201, records: 1, body: group };
  });

  route('POST', '/crm/v3/properties/:type/batch/read', async ({ params, body }) => {
    const type = typeOf(params.type);
    const inputs = inputsOf(await body());
    const found = inputs
      .map((i) => crm.property(type, String(i.name ?? '')))
      .filter((p) => p !== undefined)
      .map(propertyJson);
    const missing = inputs.map((i) => String(i.name ?? '')).filter((n) => !crm.property(type, n));
    const now = new Date(core.clock.now()).toISOString();
    return {
      status: missing.length > 0 ? 207 : 200,
      records: inputs.length,
      body: {
        status: 'COMPLETE',
        results: found,
        startedAt: now,
        completedAt: now,
        ...(missing.length > 0
          ? {
              numErrors: missing.length,
              errors: missing.map((name) =>
                standardError(hubspotErrors.notFound(`Unable to find property ${name}`), { name: [name] }),
              ),
            }
          : {}),
      },
    };
  });

  route('POST', '/crm/v3/properties/:type/batch/create', async ({ params, body }) => {
    const type = typeOf(params.type);
    const inputs = inputsOf(await body());
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    // HubSpot creates what it can and reports the rest (e.g. names that already exist) per input.
    for (const input of inputs) {
      try {
        results.push(propertyJson(crm.createProperty(type, input as never)));
      } catch (error) {
        if (!(error instanceof HubSpotApiError)) throw error;
        errors.push(standardError(error, { name: [String(input.name ?? '')] }));
      }
    }
    const now = new Date(core.clock.now()).toISOString();
    return {
      status: errors.length > 0 ? 207 : 201,
      records: inputs.length,
      body: {
        status: 'COMPLETE',
        results,
        startedAt: now,
        completedAt: now,
        ...(errors.length > 0 ? { errors, numErrors: errors.length } : {}),
      },
    };
  });

  route('GET', '/crm/v3/properties/:type', ({ params }) => {
    const type = typeOf(params.type);
    const all = [...(crm.properties.get(type)?.values() ?? [])].map(propertyJson);
    return { status: 200, records: all.length, body: { results: all } };
  });

  route('GET', '/crm/v3/properties/:type/:name', ({ params }) => {
    const type = typeOf(params.type);
    const def = crm.property(type, params.name ?? '');
    if (!def) throw hubspotErrors.notFound(`Unable to find property ${params.name}`);
    return { status: 200, records: 1, body: propertyJson(def) };
  });

  route('POST', '/crm/v3/properties/:type', async ({ params, body }) => {
    const type = typeOf(params.type);
    const def = crm.createProperty(type, (await body()) as never);
    return { status: 201, records: 1, body: propertyJson(def) };
  });

  // --- Associations (v4) -------------------------------------------------------------------------

  route('POST', '/crm/v4/associations/:from/:to/batch/read', async ({ params, body }) => {
    const from = typeOf(params.from);
    const to = typeOf(params.to);
    const inputs = inputsOf(await body());
    const results = inputs
      .map((i) => String(i.id ?? ''))
      .filter((id) => crm.get(from, id))
      .map((id) => ({
        from: { id },
        to: crm.associations(from, id, to).map((a) => ({
          toObjectId: Number(a.id),
          associationTypes: a.typeIds.map((typeId) => ({ category: 'HUBSPOT_DEFINED', typeId, label: null })),
        })),
      }));
    const now = new Date(core.clock.now()).toISOString();
    return {
      status: 200,
      records: inputs.length,
      body: { status: 'COMPLETE', results, startedAt: now, completedAt: now },
    };
  });

  const associateBatch = async (
    params: Record<string, string>,
    body: () => Promise<Record<string, unknown>>,
    useDefault: boolean,
  ): Promise<Answer> => {
    const from = typeOf(params.from);
    const to = typeOf(params.to);
    const inputs = inputsOf(await body());
    const pairs = inputs.map((input) => {
      const fromId = String((input.from as { id?: unknown } | undefined)?.id ?? '');
      const toId = String((input.to as { id?: unknown } | undefined)?.id ?? '');
      const a = crm.get(from, fromId);
      const b = crm.get(to, toId);
      if (!a || !b) throw hubspotErrors.validation(`No ${!a ? from : to} with id ${!a ? fromId : toId}`);
      const typeIds = useDefault
        ? [defaultAssociationType(from, to)]
        : ((input.types as { associationTypeId?: number }[] | undefined) ?? []).map((t) =>
            Number(t.associationTypeId),
          );
      if (typeIds.length === 0 || typeIds.some((t) => t === null || !Number.isFinite(t))) {
        throw hubspotErrors.validation(`No association type from ${from} to ${to}`);
      }
      return { a, b, typeIds: typeIds as number[] };
    });
    for (const { a, b, typeIds } of pairs)
      for (const typeId of typeIds) crm.associate(from, a.id, to, b.id, typeId);
    const now = new Date(core.clock.now()).toISOString();
    return {
      status: 200,
      records: inputs.length,
      body: {
        status: 'COMPLETE',
        results: pairs.map(({ a, b, typeIds }) => ({
          fromObjectTypeId: from,
          fromObjectId: Number(a.id),
          toObjectTypeId: to,
          toObjectId: Number(b.id),
          labels: [],
          associationTypes: typeIds,
        })),
        startedAt: now,
        completedAt: now,
      },
    };
  };

  route('POST', '/crm/v4/associations/:from/:to/batch/create', ({ params, body }) =>
    associateBatch(params, body, false),
  );
  route('POST', '/crm/v4/associations/:from/:to/batch/associate/default', ({ params, body }) =>
    associateBatch(params, body, true),
  );

  route('PUT', '/crm/v4/objects/:from/:id/associations/default/:to/:toId', ({ params }) => {
    const from = typeOf(params.from);
    const to = typeOf(params.to);
    const a = crm.get(from, params.id ?? '');
    const b = crm.get(to, params.toId ?? '');
    const typeId = defaultAssociationType(from, to);
    if (!a || !b || typeId === null) throw hubspotErrors.notFound('Objects to associate were not found');
    crm.associate(from, a.id, to, b.id, typeId);
    return { status: 200, records: 1, body: { status: 'COMPLETE', results: [] } };
  });

  route('GET', '/crm/v4/objects/:from/:id/associations/:to', ({ params }) => {
    const from = typeOf(params.from);
    const to = typeOf(params.to);
    const results = crm.associations(from, params.id ?? '', to).map((a) => ({
      toObjectId: Number(a.id),
      associationTypes: a.typeIds.map((typeId) => ({ category: 'HUBSPOT_DEFINED', typeId, label: null })),
    }));
    return { status: 200, records: results.length, body: { results } };
  });

  // --- Files -------------------------------------------------------------------------------------

  route('POST', '/files/v3/files', async ({ form }) => {
    const fields = await form();
    const file = fields.file;
    if (!(file instanceof File))
      throw hubspotErrors.validation('A file is required (multipart field "file").');
    const folderPath = typeof fields.folderPath === 'string' ? fields.folderPath : '/';
    const name = typeof fields.fileName === 'string' && fields.fileName !== '' ? fields.fileName : file.name;
    const options = parseFileOptions(fields.options);
    const existing =
      options.duplicateValidationStrategy === 'RETURN_EXISTING' ||
      options.duplicateValidationStrategy === 'REJECT'
        ? [...core.files.values()].find(
            (f) =>
              f.name === name &&
              (options.duplicateValidationScope !== 'EXACT_FOLDER' || f.folderPath === folderPath),
          )
        : undefined;
    if (existing && options.duplicateValidationStrategy === 'REJECT') {
      throw hubspotErrors.conflict(`A file named ${name} already exists (id ${existing.id}).`);
    }
    const stored =
      existing ??
      core.storeFile({ name, folderPath, type: file.type, bytes: new Uint8Array(await file.arrayBuffer()) });
    const extension = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
    return {
      status: 201,
      records: 1,
      body: {
        id: stored.id,
        name: extension ? name.slice(0, -(extension.length + 1)) : name,
        extension,
        size: stored.bytes.byteLength,
        type: stored.type.startsWith('image/') ? 'IMG' : 'OTHER',
        path: `${folderPath.replace(/\/$/, '')}/${name}`,
        url: `${core.baseUrl}${core.filePathPrefix}/_files/${stored.id}/${encodeURIComponent(name)}`,
        access: 'PRIVATE',
        archived: false,
        createdAt: new Date(core.clock.now()).toISOString(),
        updatedAt: new Date(core.clock.now()).toISOString(),
      },
    };
  });

  // The account behind the token: https://developers.hubspot.com/docs/api-reference/latest/account/account-information/get-account-details
  route('GET', '/account-info/v3/details', () => ({
    status: 200,
    records: 0,
    body: {
      portalId: core.portalId,
      accountType: 'STANDARD',
      timeZone: 'US/Eastern',
      companyCurrency: 'USD',
      additionalCurrencies: [],
      utcOffset: '-05:00',
      utcOffsetMilliseconds: -18_000_000,
      uiDomain: 'app.hubspot.com',
      dataHostingLocation: 'na1',
    },
  }));

  // Files API: "Delete file by ID" (DELETE /files/v3/files/{fileId}); deleting a file that is
  // gone answers 404 like HubSpot.
  route('DELETE', '/files/v3/files/:fileId', ({ params }) => {
    const id = params.fileId ?? '';
    if (!core.deleteFile(id)) throw hubspotErrors.notFound(`File ${id} does not exist.`);
    return { status: 204, records: 1 };
  });

  app.get('/_files/:id/:name', (c) => {
    const file = core.files.get(c.req.param('id'));
    if (!file)
      return c.json({ status: 'error', message: 'file not found', category: 'OBJECT_NOT_FOUND' }, 404);
    return c.body(new Uint8Array(file.bytes), 200, {
      'content-type': file.type || 'application/octet-stream',
    });
  });

  app.notFound((c) =>
    c.json(
      {
        status: 'error',
        message: `The emulator does not implement ${c.req.method} ${new URL(c.req.url).pathname}`,
        correlationId: crypto.randomUUID(),
        category: 'OBJECT_NOT_FOUND',
      },
      404,
    ),
  );
  return app;
}
