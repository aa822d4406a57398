import { z } from 'zod';
import { isoTime } from './iso-time.js';
import {
  CLIENT_STATES,
  DEFAULT_TENANT,
  isTerminal,
  MAX_AFTER,
  MAX_KEY_CHARS,
  MAX_RUN_NUMBER,
  MAX_TASKS,
  NodeIdSchema,
  requestedRunAt,
  TERMINAL_STATES,
  TicketSchema,
  TypeSchema,
  type JobSpec,
} from './job.js';

/** The most runs a view lists (a schedule lists its newest 20 firings). */
export const MAX_RUN_VIEWS = 10_000;

/**
 * One entry of a view's `runs`: a run of the job (node, attempt, exit code, times), or, for a
 * schedule, one of the jobs it fired (ticket and state).
 */
export const RunViewSchema = z
  .object({
    ticket: TicketSchema.optional(),
    state: z.enum(CLIENT_STATES).optional(),
    node: NodeIdSchema.nullable().optional(),
    attempt: z.number().int().min(0).max(MAX_RUN_NUMBER).optional(),
    exitCode: z.number().int().nullable().optional(),
    error: z.string().nullable().optional(),
    startedAt: z.number().int().nullable().optional(),
    finishedAt: z.number().int().nullable().optional(),
  })
  .strict();
export type RunView = z.infer<typeof RunViewSchema>;

/** One task of a job of many tasks, as a client sees it. */
export const TaskViewSchema = z
  .object({
    index: z.number().int().min(0),
    state: z.enum(CLIENT_STATES),
    exitCode: z.number().int().nullable().optional(),
    error: z.string().nullable().optional(),
    node: NodeIdSchema.nullable().optional(),
    output: z.string().optional(),
  })
  .strict();
export type TaskView = z.infer<typeof TaskViewSchema>;

export const ProgressSchema = z
  .object({
    total: z.number().int().min(0),
    done: z.number().int().min(0),
    failed: z.number().int().min(0),
    running: z.number().int().min(0),
  })
  .strict();
export type Progress = z.infer<typeof ProgressSchema>;

/** The outcome of one run of a job, as the executing node records it. */
export const ResultSchema = z
  .object({
    id: TicketSchema,
    state: z.enum(TERMINAL_STATES),
    exitCode: z.number().int().nullable(),
    output: z.string(),
    error: z.string().nullable(),
    node: NodeIdSchema.nullable(),
    /** Which run of the job this was; RETRY starts a fresh budget but keeps counting. */
    attempt: z.number().int().min(0).max(MAX_RUN_NUMBER),
    startedAt: z.number().int().nullable(),
    finishedAt: z.number().int(),
    /** Every run of the job, when the proxy recorded more than this one's outcome. */
    runs: z.array(RunViewSchema).max(MAX_RUN_VIEWS).optional(),
    /** A job of many tasks: each task's outcome, and the counts. */
    tasks: z.array(TaskViewSchema).max(MAX_TASKS).optional(),
    progress: ProgressSchema.optional(),
  })
  .strict();

export type JobResult = z.infer<typeof ResultSchema>;

/** What a client sees of a ticket: RESULT and WAIT replies, HTTP, and cross-node lookups. */
export const JobViewSchema = z
  .object({
    ticket: TicketSchema,
    state: z.enum(CLIENT_STATES),
    exitCode: z.number().int().nullable().optional(),
    output: z.string().optional(),
    error: z.string().nullable().optional(),
    node: NodeIdSchema.nullable().optional(),
    attempts: z.number().int().min(0),
    submittedAt: z.number().int(),
    startedAt: z.number().int().nullable().optional(),
    finishedAt: z.number().int().nullable().optional(),
    /** Kept for the seed dialect's "for N milliseconds" reply. */
    type: TypeSchema.optional(),
    args: z.array(z.string()).optional(),
    runs: z.array(RunViewSchema).max(MAX_RUN_VIEWS).optional(),
    tasks: z.array(TaskViewSchema).max(MAX_TASKS).optional(),
    progress: ProgressSchema.optional(),
    /** Why a job that could run is not placed yet. */
    waiting: z.string().max(500).optional(),
    runAt: z.number().int().optional(),
    key: z.string().max(MAX_KEY_CHARS).optional(),
    after: z.array(TicketSchema).max(MAX_AFTER).optional(),
    tenant: z.string().optional(),
    cron: z.string().optional(),
    tz: z.string().optional(),
    /** A schedule's next firing. */
    next: z.number().int().nullable().optional(),
  })
  .strict();

export type JobView = z.infer<typeof JobViewSchema>;

/** The view fields a job's spec decides (`runAt`, `key`, `after`, `tenant`), where given. */
export function specViewFields(spec: JobSpec, submittedAt: number): Partial<JobView> {
  const out: Partial<JobView> = {};
  const runAt = requestedRunAt(spec, submittedAt);
  if (runAt !== undefined) out.runAt = runAt;
  if (spec.key !== undefined) out.key = spec.key;
  if (spec.after !== undefined) out.after = spec.after;
  if (spec.tenant !== undefined) out.tenant = spec.tenant;
  return out;
}

const iso = isoTime;

function runToClient(r: RunView): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.ticket) out.ticket = r.ticket;
  if (r.state) out.state = r.state;
  if (r.node) out.node = r.node;
  if (r.attempt !== undefined) out.attempt = r.attempt;
  if (r.exitCode !== undefined && r.exitCode !== null) out.exitCode = r.exitCode;
  if (r.error) out.error = r.error;
  if (r.startedAt) out.startedAt = iso(r.startedAt);
  if (r.finishedAt) out.finishedAt = iso(r.finishedAt);
  return out;
}

/** The client object of a view: fields known so far, times as ISO-8601. */
export function viewToClient(v: JobView): Record<string, unknown> {
  const out: Record<string, unknown> = { ticket: v.ticket, state: v.state };
  if (v.cron !== undefined) out.cron = v.cron;
  if (v.tz !== undefined) out.tz = v.tz;
  if (v.next !== undefined) out.next = v.next === null ? null : iso(v.next);
  if (v.exitCode !== undefined && v.exitCode !== null) out.exitCode = v.exitCode;
  if (v.output !== undefined && isTerminal(v.state)) out.output = v.output;
  if (v.error) out.error = v.error;
  if (v.node) out.node = v.node;
  out.attempts = v.attempts;
  out.submittedAt = iso(v.submittedAt);
  if (v.startedAt) out.startedAt = iso(v.startedAt);
  if (v.finishedAt) out.finishedAt = iso(v.finishedAt);
  if (v.waiting) out.waiting = v.waiting;
  if (v.runAt !== undefined) out.runAt = iso(v.runAt);
  if (v.key !== undefined) out.key = v.key;
  if (v.after !== undefined) out.after = v.after;
  if (v.tenant !== undefined && v.tenant !== DEFAULT_TENANT) out.tenant = v.tenant;
  if (v.progress) out.progress = v.progress;
  if (v.tasks) out.tasks = v.tasks;
  if (v.runs) out.runs = v.runs.map(runToClient);
  return out;
}

/** The client JSON of a view (RESULT, WAIT, HTTP). */
export function viewToClientJson(v: JobView): string {
  return JSON.stringify(viewToClient(v));
}

/** One run as a result's `runs` lists it. */
export function runOfResult(r: JobResult): RunView {
  return {
    node: r.node,
    attempt: r.attempt,
    exitCode: r.exitCode,
    error: r.error,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}
