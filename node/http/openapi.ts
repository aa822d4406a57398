import { z } from 'zod';
import * as api from '../../shared/api.js';
import { TICKET_INPUT_RE } from '../../shared/ids.js';
import { JobSpecSchema } from '../../shared/job.js';
import { HTTP_STATUS } from './errors.js';
import type { ApiRoute } from './route.js';

type Json = Record<string, unknown>;

/** Named schemas: components of the document, referenced wherever they appear. */
const NAMED: Array<[string, z.ZodType]> = [
  ['JobSpec', JobSpecSchema],
  ['JobState', api.JobStateSchema],
  ['Run', api.RunSchema],
  ['TaskResult', api.TaskResultSchema],
  ['Progress', api.ProgressSchema],
  ['JobResult', api.JobResultSchema],
  ['Submitted', api.SubmittedSchema],
  ['JobList', api.JobListSchema],
  ['ErrorCode', api.ErrorCodeSchema],
  ['Error', api.ErrorBodySchema],
];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * Errors any route may answer (405: another method; 431: a request line and headers past
 * node:http's limit), and those only some answer.
 */
const COMMON_ERRORS = [400, 401, 405, 429, 431, 503];
const TICKET_ERRORS = [404];
const BODY_ERRORS = [413];

/**
 * The OpenAPI 3.1 document of the node's HTTP API, built from the routes and the zod schemas
 * they validate with (zod's JSON Schema output is the 2020-12 dialect OpenAPI 3.1 uses).
 */
export function buildOpenApi(routes: readonly ApiRoute[]): Json {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of NAMED) registry.add(schema, { id });
  const generated = z.toJSONSchema(registry, {
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }).schemas;
  const schemas: Json = {};
  for (const [id, s] of Object.entries(generated)) schemas[id] = clean(s);

  const named = new Map(NAMED.map(([id, s]) => [s, id]));
  const schemaOf = (s: z.ZodType): Json => {
    const id = named.get(s);
    return id ? ref(id) : clean(z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }));
  };

  const paths: Record<string, Json> = {};
  for (const route of routes) {
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route, schemaOf);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Petrel node API',
      version: '1.0.0',
      description:
        "A node's HTTP API: the same jobs, results and errors as its line protocol. " +
        'When the node has a CLIENT_TOKEN, send it as `Authorization: Bearer <token>`. ' +
        'Every GET also answers HEAD: the same status and headers, no body.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      responses: {
        ...Object.fromEntries(
          [...new Set(Object.values(HTTP_STATUS)), 405, 431].map((status) => [
            `E${status}`,
            {
              description: ERROR_TEXT[status],
              ...(ERROR_HEADERS[status] ? { headers: headersOf(ERROR_HEADERS[status]) } : {}),
              content: json(ref('Error')),
            },
          ]),
        ),
      },
    },
  };
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad request (code BAD_REQUEST)',
  401: 'A token is required or was wrong (code UNAUTHORIZED)',
  403: 'Not allowed (code FORBIDDEN)',
  404: 'No such ticket (code NOT_FOUND)',
  405: 'Not a method of this path (code BAD_REQUEST); `Allow` names those that are',
  408: 'Not finished in time (code TIMEOUT)',
  413: 'Body too large (code TOO_LARGE)',
  429: 'Too much work pending (code BUSY)',
  431: 'The request line and headers are too large (code TOO_LARGE)',
  503: 'The cluster cannot answer right now; try again (code UNAVAILABLE)',
};

/** The headers an error response carries, by status. */
const ERROR_HEADERS: Record<number, Record<string, string>> = {
  401: { 'WWW-Authenticate': 'the scheme to authenticate with: `Bearer`' },
  405: { Allow: 'the methods of this path' },
  429: { 'Retry-After': 'seconds to wait before asking again' },
};

const json = (schema: Json) => ({ 'application/json': { schema } });

function operation(route: ApiRoute, schemaOf: (s: z.ZodType) => Json): Json {
  const parameters: Json[] = [];
  for (const m of route.path.matchAll(/\{(\w+)\}/g)) {
    parameters.push({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string', pattern: TICKET_INPUT_RE.source },
      description: 'the ticket SUBMIT answered, in any case (I and L are read as 1, O as 0)',
    });
  }
  for (const q of route.query ?? []) {
    parameters.push({
      name: q.name,
      in: 'query',
      description: q.description,
      schema: schemaOf(q.schema),
    });
  }
  const responses: Json = {};
  for (const [status, doc] of Object.entries(route.responses)) {
    responses[status] = {
      description: doc.description,
      ...(doc.headers ? { headers: headersOf(doc.headers) } : {}),
      content: doc.text
        ? { 'text/plain': { schema: { type: 'string' } } }
        : doc.schema
          ? json(schemaOf(doc.schema))
          : undefined,
    };
  }
  const errors = new Set([
    ...COMMON_ERRORS,
    ...(route.path.includes('{ticket}') ? TICKET_ERRORS : []),
    ...(route.body ? BODY_ERRORS : []),
    ...(route.errors ?? []),
  ]);
  for (const status of [...errors].sort((a, b) => a - b)) {
    if (!route.public || status !== 401) {
      responses[String(status)] = { $ref: `#/components/responses/E${status}` };
    }
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: true, content: json(schemaOf(route.body)) } } : {}),
    responses,
    security: route.public ? [] : [{ bearer: [] }, {}],
  };
}

function headersOf(headers: Record<string, string>): Json {
  return Object.fromEntries(
    Object.entries(headers).map(([name, description]) => [
      name,
      { description, schema: { type: 'string' } },
    ]),
  );
}

/** Drops the per-schema `$schema`/`$id` zod adds: the document's dialect is OpenAPI's. */
function clean(s: unknown): Json {
  const { $schema: _s, $id: _i, ...rest } = s as Json;
  return rest;
}
