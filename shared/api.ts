import { z } from 'zod';
import { WIRE_CODES } from './errors.js';
import { TicketSchema } from './job.js';
import { ProgressSchema as JobProgressSchema, TaskViewSchema } from './job-view.js';

/**
 * What clients read: the JSON of RESULT and WAIT, of the HTTP API and of the client library.
 * One set of schemas gives the library its types and the HTTP API its OpenAPI document.
 * Objects are open (`loose`): a newer node may add fields, and an older client keeps working.
 */

export const JOB_STATES = [
  'scheduled',
  'blocked',
  'queued',
  'running',
  'done',
  'failed',
  'cancelled',
] as const;
export const JobStateSchema = z.enum(JOB_STATES).meta({ id: 'JobState' });
export type JobState = z.infer<typeof JobStateSchema>;

const Time = z.iso.datetime().describe('ISO-8601 time (UTC)');

export const RunSchema = z
  .object({
    ticket: TicketSchema.optional().describe("a schedule's run"),
    state: JobStateSchema.optional(),
    node: z.string().nullable().optional(),
    attempt: z.number().int().optional(),
    exitCode: z.number().int().nullable().optional(),
    error: z.string().nullable().optional(),
    startedAt: Time.nullable().optional(),
    finishedAt: Time.nullable().optional(),
  })
  .loose()
  .meta({ id: 'Run' });

export const TaskResultSchema = TaskViewSchema.meta({
  id: 'TaskResult',
  description: 'one task of a job of many tasks; output clipped so the reply stays under 1 MiB',
});

export const ProgressSchema = JobProgressSchema.meta({ id: 'Progress' });

export const JobResultSchema = z
  .object({
    ticket: TicketSchema,
    state: JobStateSchema,
    exitCode: z.number().int().nullable().optional(),
    output: z.string().optional().describe('once finished: the head and tail of what it printed'),
    error: z.string().nullable().optional(),
    node: z.string().nullable().optional().describe('the node that ran it'),
    attempts: z.number().int().min(0).optional(),
    submittedAt: Time.optional(),
    startedAt: Time.nullable().optional(),
    finishedAt: Time.nullable().optional(),
    runs: z.array(RunSchema).optional(),
    tasks: z.array(TaskResultSchema).optional(),
    progress: ProgressSchema.optional(),
    waiting: z.string().optional().describe('why it is not running yet'),
    runAt: Time.optional(),
    key: z.string().optional(),
    after: z.array(TicketSchema).optional(),
    tenant: z.string().optional(),
    cron: z.string().optional(),
    tz: z.string().optional(),
    next: Time.nullable().optional().describe("a schedule's next firing"),
    skipped: z
      .number()
      .int()
      .optional()
      .describe("a schedule's firings skipped while its previous run had not started"),
  })
  .loose()
  .meta({ id: 'JobResult', description: 'A job as far as it is known (fields known so far)' });
export type JobResultJson = z.infer<typeof JobResultSchema>;

export const SubmittedSchema = z.object({ ticket: TicketSchema }).meta({ id: 'Submitted' });

export const JobListSchema = z
  .object({ jobs: z.array(JobResultSchema).describe('newest first') })
  .meta({ id: 'JobList' });

export const ErrorCodeSchema = z
  .enum(Object.keys(WIRE_CODES) as [keyof typeof WIRE_CODES, ...(keyof typeof WIRE_CODES)[]])
  .meta({ id: 'ErrorCode' });

export const ErrorBodySchema = z
  .object({ error: z.object({ code: ErrorCodeSchema, message: z.string() }) })
  .meta({ id: 'Error' });
