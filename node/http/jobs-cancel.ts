import { JobResultSchema } from '../../shared/api.js';
import { WireError } from '../../shared/errors.js';
import { viewToClientJson } from '../../shared/job-view.js';
import { sendJsonText } from './errors.js';
import { ticketParam, type ApiRoute } from './route.js';

export const cancelRoute: ApiRoute = {
  method: 'POST',
  path: '/v1/jobs/{ticket}/cancel',
  operationId: 'cancelJob',
  summary: 'Cancel a job',
  description: 'Answers the job after cancelling; a job that had already finished is unchanged.',
  responses: { 200: { description: 'The job after cancelling', schema: JobResultSchema } },
  async handle(ctx) {
    const ticket = ticketParam(ctx);
    const view = await ctx.api.cancel(ticket);
    if (!view) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
    sendJsonText(ctx.res, 200, viewToClientJson(view));
  },
};
