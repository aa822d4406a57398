import { JobResultSchema } from '../../shared/api.js';
import { WireError } from '../../shared/errors.js';
import { viewToClientJson } from '../../shared/job-view.js';
import { sendJsonText } from './errors.js';
import { ticketParam, type ApiRoute } from './route.js';

export const retryRoute: ApiRoute = {
  method: 'POST',
  path: '/v1/jobs/{ticket}/retry',
  operationId: 'retryJob',
  summary: 'Run a failed or cancelled job again',
  description:
    'The same ticket runs again with a fresh retry budget; a job that is not failed or ' +
    'cancelled is refused with BAD_REQUEST.',
  responses: { 200: { description: 'The job, queued again', schema: JobResultSchema } },
  async handle(ctx) {
    const ticket = ticketParam(ctx);
    const view = await ctx.api.retry(ticket);
    if (!view) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
    sendJsonText(ctx.res, 200, viewToClientJson(view));
  },
};
