import { z } from 'zod';
import { WireError } from '../../shared/errors.js';
import type { OutputPiece, OutputStream } from '../../shared/run-log-format.js';
import { runOf } from '../log-reader.js';
import { intQuery, ticketParam, type ApiRoute, type RouteContext } from './route.js';

/** The highest task index `task` takes (a job has at most 10,000 tasks). */
const MAX_TASK = 99_999;

/** The `stream` query parameter: which one of the job's output streams to give. */
const StreamQuerySchema = z.enum(['stdout', 'stderr']);

export const logsRoute: ApiRoute = {
  method: 'GET',
  path: '/v1/jobs/{ticket}/logs',
  operationId: 'getJobLogs',
  summary: "A job's output (or one task's), as text; with `follow`, streamed until it ends",
  description:
    'The whole output the executing node kept (up to its JOB_LOG_LIMIT): stdout and stderr ' +
    'line by line in the order the lines were printed, or only one of them with `stream`. ' +
    'With `follow=1` the response streams what the job prints as it prints it and ends when ' +
    'the job does.',
  query: [
    { name: 'follow', description: '1: stream until the job ends', schema: z.enum(['0', '1']) },
    {
      name: 'task',
      description: 'a task of a job of many tasks',
      schema: z.number().int().min(0).max(MAX_TASK),
    },
    {
      name: 'stream',
      description: "only what the job printed on this stream (a worker's output is stdout)",
      schema: StreamQuerySchema,
    },
  ],
  responses: { 200: { description: 'The output', text: true } },
  async handle(ctx) {
    const ticket = ticketParam(ctx);
    const task = intQuery(ctx, 'task', 0, MAX_TASK);
    const follow = ctx.query.get('follow');
    if (follow !== null && follow !== '0' && follow !== '1') {
      throw new WireError('BAD_REQUEST', 'follow is 0 or 1');
    }
    const only = streamQuery(ctx);
    if (follow === '1') return streamLogs(ctx, ticket, task, only);
    const output = await ctx.api.logs(ticket, task);
    if (output === null) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
    ctx.res.writeHead(200, textHeaders);
    ctx.res.end(bytesOf(output, only));
  },
};

function streamQuery(ctx: RouteContext): OutputStream | undefined {
  const raw = ctx.query.get('stream');
  if (raw === null || raw === '') return undefined;
  const parsed = StreamQuerySchema.safeParse(raw);
  if (!parsed.success) throw new WireError('BAD_REQUEST', 'stream is stdout or stderr');
  return parsed.data;
}

/** The bytes of `pieces`, only those of stream `only` when given. */
function bytesOf(pieces: readonly OutputPiece[], only: OutputStream | undefined): Buffer {
  return Buffer.concat(pieces.filter((p) => !only || p.stream === only).map((p) => p.data));
}

const textHeaders = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

async function streamLogs(
  ctx: RouteContext,
  ticket: string,
  task: number | undefined,
  only: OutputStream | undefined,
) {
  const first = await ctx.api.view(ticket);
  if (!first) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
  runOf(first, task); // a task the job does not have is refused before anything streams
  const headers = { ...textHeaders, 'x-content-type-options': 'nosniff' };
  if (ctx.req.method === 'HEAD') {
    // no body to follow: the headers are the whole answer, now rather than when the job ends
    ctx.res.writeHead(200, headers);
    ctx.res.end();
    return;
  }
  const output = ctx.api.follow(first, task, ctx.signal);
  // the headers go first, so a client sees the response begin before the job prints anything
  ctx.res.writeHead(200, headers);
  ctx.res.flushHeaders();
  for (let r = await output.next(); !r.done; r = await output.next()) {
    const bytes = bytesOf(r.value, only);
    if (bytes.length > 0 && !ctx.res.write(bytes)) {
      await new Promise((resolve) => {
        ctx.res.once('drain', resolve);
        ctx.res.once('close', resolve);
      });
    }
  }
  ctx.res.end();
}
