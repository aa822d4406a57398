import { parseTicket } from '../shared/ids.js';
import { CLIENT_STATES, TENANT_RE, type ClientState } from '../shared/job.js';
import type { JobFilter } from './job-table.js';

export const DEFAULT_JOB_LIST = 100;
export const MAX_JOB_LIST = 1000;

/** GET /api/jobs?state=&tenant=&limit=&before=: the filter, or what is wrong with the query. */
export function parseJobQuery(
  q: URLSearchParams,
): { ok: true; filter: JobFilter } | { ok: false; message: string } {
  const filter: JobFilter = { limit: DEFAULT_JOB_LIST };
  const state = q.get('state');
  if (state !== null) {
    if (!(CLIENT_STATES as readonly string[]).includes(state)) {
      return { ok: false, message: `state is one of ${CLIENT_STATES.join(', ')}` };
    }
    filter.state = state as ClientState;
  }
  const tenant = q.get('tenant');
  if (tenant !== null) {
    if (!TENANT_RE.test(tenant)) return { ok: false, message: 'tenant: 1-64 of A-Z a-z 0-9 . _ -' };
    filter.tenant = tenant;
  }
  const limit = wholeParam(q, 'limit', DEFAULT_JOB_LIST, 1, MAX_JOB_LIST);
  if (typeof limit === 'string') return { ok: false, message: limit };
  filter.limit = limit;
  const before = q.get('before');
  if (before !== null) {
    const ticket = parseTicket(before);
    if (!ticket) {
      return { ok: false, message: `before is a ticket (a reply's next): ${before.slice(0, 40)}` };
    }
    filter.before = ticket;
  }
  return { ok: true, filter };
}

/** Runs `/api/schedules` gives with each schedule by default, and at most. */
export const DEFAULT_SCHEDULE_RUNS = 5;
export const MAX_SCHEDULE_RUNS = 20;

/**
 * GET /api/schedules?limit=&runs=: how many schedules (as many as a job list) and how many of
 * each one's newest runs, or what is wrong with the query.
 */
export function parseScheduleQuery(
  q: URLSearchParams,
): { ok: true; limit: number; runs: number } | { ok: false; message: string } {
  const limit = wholeParam(q, 'limit', DEFAULT_JOB_LIST, 1, MAX_JOB_LIST);
  if (typeof limit === 'string') return { ok: false, message: limit };
  const runs = wholeParam(q, 'runs', DEFAULT_SCHEDULE_RUNS, 0, MAX_SCHEDULE_RUNS);
  if (typeof runs === 'string') return { ok: false, message: runs };
  return { ok: true, limit, runs };
}

/** A whole-number parameter from `min` to `max`, `fallback` when absent; else why not. */
function wholeParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number) {
  const text = q.get(name);
  if (text === null) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    return `${name} is a whole number from ${min} to ${max}`;
  }
  return n;
}
