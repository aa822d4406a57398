import { JobResultSchema } from '../../shared/api.js';
import { WireError } from '../../shared/errors.js';
import { viewToClientJson } from '../../shared/job-view.js';
import { z } from 'zod';
import { sendJsonText } from './errors.js';
import { intQuery, ticketParam, type ApiRoute } from './route.js';

/** The longest a long poll may be asked to wait, as WAIT allows. */
export const MAX_WAIT_MS = 3_600_000;

export const getJobRoute: ApiRoute = {
  method: 'GET',
  path: '/v1/jobs/{ticket}',
  operationId: 'getJob',
  summary: 'A job as known so far; with `wait`, once it has finished',
  description:
    'With `wait`, the reply comes as soon as the job is done, failed or cancelled, or after ' +
    '`wait` milliseconds with the job as it is then (check `state`).',
  query: [
    {
      name: 'wait',
      description: 'long-poll: milliseconds to wait for the job to finish',
      schema: z.number().int().min(0).max(MAX_WAIT_MS),
    },
  ],
  responses: { 200: { description: 'The job', schema: JobResultSchema } },
  async handle(ctx) {
    const ticket = ticketParam(ctx);
    const waitMs = intQuery(ctx, 'wait', 0, MAX_WAIT_MS);
    let view = waitMs === undefined ? null : await ctx.api.wait(ticket, waitMs, ctx.signal);
    if (view === null || view === 'timeout') view = await ctx.api.view(ticket);
    if (!view) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
    sendJsonText(ctx.res, 200, viewToClientJson(view));
  },
};
