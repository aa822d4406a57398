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
  const limit = q.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > MAX_JOB_LIST) {
      return { ok: false, message: `limit is a whole number from 1 to ${MAX_JOB_LIST}` };
    }
    filter.limit = n;
  }
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
