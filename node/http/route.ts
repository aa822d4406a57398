import type http from 'node:http';
import type { z } from 'zod';
import { WireError } from '../../shared/errors.js';
import { parseTicket } from '../../shared/ids.js';
import type { NodeApi } from '../commands.js';

/** What a route's handler gets: the request, its parsed parts, and the node. */
export interface RouteContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  api: NodeApi;
  /** Aborted when the client goes away, so a long poll ends with it. */
  signal: AbortSignal;
}

export interface QueryParam {
  name: string;
  description: string;
  schema: z.ZodType;
}

export interface ResponseDoc {
  description: string;
  /** A JSON body, described by its schema. */
  schema?: z.ZodType;
  /** A text/plain body. */
  text?: boolean;
  /** Response headers worth documenting: name → what it says. */
  headers?: Record<string, string>;
}

/**
 * One HTTP route: how it is matched, what it documents (the OpenAPI document is built from
 * these, with the same zod schemas the handler validates with), and its handler.
 */
export interface ApiRoute {
  method: 'GET' | 'POST';
  /** OpenAPI form: `/v1/jobs/{ticket}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  query?: QueryParam[];
  body?: z.ZodType;
  responses: Record<number, ResponseDoc>;
  /** Error statuses this route answers beyond those every route (or every body) may. */
  errors?: number[];
  /** Open to anyone even when CLIENT_TOKEN is set. */
  public?: boolean;
  handle(ctx: RouteContext): Promise<void>;
}

/** The `{ticket}` path parameter, canonical; BAD_REQUEST when it is not a ticket. */
export function ticketParam(ctx: RouteContext): string {
  const raw = ctx.params.ticket ?? '';
  const t = parseTicket(raw);
  if (!t) throw new WireError('BAD_REQUEST', `not a ticket: ${raw.slice(0, 40)}`);
  return t;
}

/** A whole-number query parameter within bounds, or `fallback` when absent. */
export function intQuery(
  ctx: RouteContext,
  name: string,
  min: number,
  max: number,
  fallback?: number,
): number | undefined {
  const raw = ctx.query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new WireError('BAD_REQUEST', `${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}
