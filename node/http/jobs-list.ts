import { z } from 'zod';
import { JobListSchema, JobStateSchema, JOB_STATES } from '../../shared/api.js';
import { WireError } from '../../shared/errors.js';
import { viewToClientJson } from '../../shared/job-view.js';
import { sendJsonText } from './errors.js';
import { intQuery, type ApiRoute } from './route.js';

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
    // an empty `state=` (the form the docs write the query in) means no filter, as for limit
    const state = ctx.query.get('state') || null;
    if (state !== null && !(JOB_STATES as readonly string[]).includes(state)) {
      throw new WireError('BAD_REQUEST', `state must be one of ${JOB_STATES.join(', ')}`);
    }
    const views = await ctx.api.currentViews(state ? MAX_LIMIT : limit);
    const chosen = (state ? views.filter((v) => v.state === state) : views).slice(0, limit);
    sendJsonText(ctx.res, 200, `{"jobs":[${chosen.map(viewToClientJson).join(',')}]}`);
  },
};
