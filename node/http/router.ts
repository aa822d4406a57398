import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { z } from 'zod';
import { WireError } from '../../shared/errors.js';
import type { NodeApi } from '../commands.js';
import { givenParams, pathSegment, sendMethodNotAllowed } from '../../shared/http.js';
import { sendError, sendJsonText } from './errors.js';
import { cancelRoute } from './jobs-cancel.js';
import { getJobRoute } from './jobs-get.js';
import { listRoute } from './jobs-list.js';
import { logsRoute } from './jobs-logs.js';
import { retryRoute } from './jobs-retry.js';
import { submitRoute } from './jobs-submit.js';
import { buildOpenApi } from './openapi.js';
import type { ApiRoute } from './route.js';

export interface ApiOptions {
  clientToken: string | undefined;
}

/** Every route of the API, the document included. */
export function apiRoutes(): ApiRoute[] {
  const routes = [submitRoute, listRoute, getJobRoute, cancelRoute, retryRoute, logsRoute];
  let doc: string | undefined;
  const openapi: ApiRoute = {
    method: 'GET',
    path: '/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    public: true,
    responses: {
      200: {
        description: 'The OpenAPI 3.1 description of this API',
        schema: z.looseObject({ openapi: z.literal('3.1.0') }),
      },
    },
    async handle({ res }) {
      doc ??= JSON.stringify(buildOpenApi(all));
      sendJsonText(res, 200, doc);
    },
  };
  const all = [...routes, openapi];
  return all;
}

interface Compiled {
  route: ApiRoute;
  re: RegExp;
  names: string[];
}

function compile(route: ApiRoute): Compiled {
  const names: string[] = [];
  const pattern = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, re: new RegExp(`^${pattern}$`), names };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The `/v1` API on a node: returns a handler that answers requests under `/v1/` (and says
 * false for any other path, which the caller serves). The same NodeApi as the line protocol
 * does the work; the same token guards it, sent as `Authorization: Bearer <token>`. A path
 * parameter that is not valid percent-encoding throws BAD_REQUEST, which the server answers.
 */
export function createApiHandler(api: NodeApi, opts: ApiOptions) {
  const compiled = apiRoutes().map(compile);
  const tokenDigest = opts.clientToken === undefined ? undefined : digest(opts.clientToken);

  const authorised = (req: http.IncomingMessage): boolean => {
    if (!tokenDigest) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest((m[1] as string).trim()), tokenDigest);
  };

  return function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean {
    if (!url.pathname.startsWith('/v1/') && url.pathname !== '/v1') return false;
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
    // HEAD is GET without the body (node:http drops it)
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const matched = compiled.filter((c) => c.re.test(path));
    const c = matched.find((m) => m.route.method === method);
    if (!c) {
      if (matched.length > 0) {
        sendMethodNotAllowed(req, res, [...new Set(matched.map((m) => m.route.method))]);
      } else {
        req.resume();
        sendError(res, new WireError('NOT_FOUND', `no such endpoint: ${path.slice(0, 100)}`));
      }
      return true;
    }
    if (!c.route.public && !authorised(req)) {
      req.resume();
      sendError(res, new WireError('UNAUTHORIZED', 'send Authorization: Bearer <token>'));
      return true;
    }
    const m = c.re.exec(path) as RegExpExecArray;
    const params = Object.fromEntries(c.names.map((n, i) => [n, pathSegment(m[i + 1] ?? '')]));
    run(c.route, req, res, params, givenParams(url.searchParams), api);
    return true;
  };
}

function run(
  route: ApiRoute,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  params: Record<string, string>,
  query: URLSearchParams,
  api: NodeApi,
): void {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  route
    .handle({ req, res, params, query, api, signal: controller.signal })
    .catch((err: unknown) => {
      if (err instanceof WireError) return sendError(res, err);
      sendError(res, new WireError('UNAVAILABLE', 'internal error, the request was not completed'));
    });
}
