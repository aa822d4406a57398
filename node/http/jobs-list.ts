import { z } from 'zod';
import { JobListSchema, JobStateSchema, JOB_STATES } from '../../shared/api.js';
import { WireError } from '../../shared/errors.js';
import { viewToClientJson, type JobView } from '../../shared/job-view.js';
import { sendJsonText } from './errors.js';
import { intQuery, type ApiRoute } from './route.js';
import type { NodeApi } from '../commands.js';
import { isTerminal, type ClientState } from '../../shared/job.js';

const MAX_LIMIT = 1000;

export const listRoute: ApiRoute = {
  method: 'GET',
  path: '/v1/jobs',
  operationId: 'listJobs',
  summary: "This node's jobs, newest first",
  query: [
    { name: 'state', description: 'only jobs in this state', schema: JobStateSchema },
    {
      name: 'limit',
      description: `at most this many (default 100, at most ${MAX_LIMIT})`,
      schema: z.number().int().min(1).max(MAX_LIMIT),
    },
  ],
  responses: { 200: { description: 'The jobs', schema: JobListSchema } },
  async handle(ctx) {
    const limit = intQuery(ctx, 'limit', 1, MAX_LIMIT, 100) as number;
    const state = ctx.query.get('state');
    if (state !== null && !(JOB_STATES as readonly string[]).includes(state)) {
      throw new WireError('BAD_REQUEST', `state must be one of ${JOB_STATES.join(', ')}`);
    }
    const chosen = state ? await inState(ctx.api, state, limit) : await ctx.api.currentViews(limit);
    sendJsonText(ctx.res, 200, `{"jobs":[${chosen.map(viewToClientJson).join(',')}]}`);
  },
};

/**
 * This node's newest jobs in `state`, looked up as `LIST <state>` does, in every ticket issued
 * here: an ended one in this node's file (a failed job stays listed however many jobs came
 * after it), an open one among all open tickets, whose state the proxy tells (a long-running
 * job stays listed however many jobs ended after it).
 */
async function inState(api: NodeApi, state: string, limit: number): Promise<JobView[]> {
  if (!isTerminal(state)) return api.currentViews(limit, state as ClientState);
  const rows = await api.list(limit, state as ClientState);
  const views = await Promise.all(rows.map((r) => api.view(r.id)));
  return views.filter((v): v is JobView => v !== null && v.state === state);
}
