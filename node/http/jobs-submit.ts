import { SubmittedSchema } from '../../shared/api.js';
import { JobSpecSchema } from '../../shared/job.js';
import { validateSpec } from '../commands.js';
import { readJson } from './body.js';
import { sendJsonText } from './errors.js';
import type { ApiRoute } from './route.js';

/** Larger than a line (64 KiB): a job of many tasks is one body. */
export const BODY_LIMIT = 4 * 1024 * 1024;

export const submitRoute: ApiRoute = {
  method: 'POST',
  path: '/v1/jobs',
  operationId: 'submitJob',
  summary: 'Submit a job',
  description: 'The ticket is answered once this node has committed the job.',
  body: JobSpecSchema,
  responses: {
    201: {
      description: 'Accepted; `Location` names the job',
      schema: SubmittedSchema,
      headers: { Location: 'the path of the job: `/v1/jobs/{ticket}`' },
    },
    200: {
      description: 'A job with this `key` is already known: its ticket, nothing new runs',
      schema: SubmittedSchema,
      headers: { Location: 'the path of the job: `/v1/jobs/{ticket}`' },
    },
  },
  // an exec whose program (or a task's) is not in the node's EXEC_ALLOW
  errors: [403],
  async handle({ req, res, api }) {
    const spec = validateSpec(await readJson(req, BODY_LIMIT));
    const { ticket, created } = await api.submitJob(spec);
    sendJsonText(res, created ? 201 : 200, JSON.stringify({ ticket }), {
      location: `/v1/jobs/${ticket}`,
    });
  },
};
