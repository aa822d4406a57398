import { z } from 'zod';
import { isoTime } from './iso-time.js';
import { jsonNumber, jsonString } from './wire-text.js';
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
    /** A schedule's firings skipped while its previous run had not started. */
    skipped: z.number().int().min(0).optional(),
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
  if (v.skipped !== undefined) out.skipped = v.skipped;
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

/**
 * The client JSON of a view (RESULT, WAIT, HTTP): the text `JSON.stringify(viewToClient(v))`
 * gives, the same members in the same order, written straight from the view. Every job's
 * WAIT reply is one; the object in between and the generic walk cost more than the text.
 */
export function viewToClientJson(v: JobView): string {
  let s = add(add('{', 'ticket', v.ticket), 'state', v.state);
  if (v.cron !== undefined) s = add(s, 'cron', v.cron);
  if (v.tz !== undefined) s = add(s, 'tz', v.tz);
  if (v.next !== undefined) s = v.next === null ? add(s, 'next', null) : time(s, 'next', v.next);
  if (v.skipped !== undefined) s = add(s, 'skipped', v.skipped);
  if (v.exitCode !== undefined && v.exitCode !== null) s = add(s, 'exitCode', v.exitCode);
  if (v.output !== undefined && isTerminal(v.state)) s = add(s, 'output', v.output);
  if (v.error) s = add(s, 'error', v.error);
  if (v.node) s = add(s, 'node', v.node);
  s = time(add(s, 'attempts', v.attempts), 'submittedAt', v.submittedAt);
  if (v.startedAt) s = time(s, 'startedAt', v.startedAt);
  if (v.finishedAt) s = time(s, 'finishedAt', v.finishedAt);
  if (v.waiting) s = add(s, 'waiting', v.waiting);
  if (v.runAt !== undefined) s = time(s, 'runAt', v.runAt);
  if (v.key !== undefined) s = add(s, 'key', v.key);
  if (v.after !== undefined) s = add(s, 'after', v.after);
  if (v.tenant !== undefined && v.tenant !== DEFAULT_TENANT) s = add(s, 'tenant', v.tenant);
  if (v.progress) s = add(s, 'progress', v.progress);
  if (v.tasks) s = add(s, 'tasks', v.tasks);
  if (v.runs) {
    s += s.length > 1 ? ',"runs":[' : '"runs":[';
    for (let i = 0; i < v.runs.length; i++) s += (i === 0 ? '' : ',') + runJson(v.runs[i]!);
    s += ']';
  }
  return `${s}}`;
}

/** `runToClient(r)` as JSON, written straight from the run. */
function runJson(r: RunView): string {
  let s = '{';
  if (r.ticket) s = add(s, 'ticket', r.ticket);
  if (r.state) s = add(s, 'state', r.state);
  if (r.node) s = add(s, 'node', r.node);
  if (r.attempt !== undefined) s = add(s, 'attempt', r.attempt);
  if (r.exitCode !== undefined && r.exitCode !== null) s = add(s, 'exitCode', r.exitCode);
  if (r.error) s = add(s, 'error', r.error);
  if (r.startedAt) s = time(s, 'startedAt', r.startedAt);
  if (r.finishedAt) s = time(s, 'finishedAt', r.finishedAt);
  return `${s}}`;
}

/**
 * A result's JSON, as stored and sent (`JSON.stringify(r)` for a result whose members are in
 * the schema's order, as `resultOf` makes them; the same value in any case), written straight
 * from it: V8's generic walk spends most of its time on the four epoch times of a run.
 */
export function resultJson(r: JobResult): string {
  let s = add(
    add(add(add('{', 'id', r.id), 'state', r.state), 'exitCode', r.exitCode),
    'output',
    r.output,
  );
  s = add(
    add(add(add(s, 'error', r.error), 'node', r.node), 'attempt', r.attempt),
    'startedAt',
    r.startedAt,
  );
  s = add(s, 'finishedAt', r.finishedAt);
  if (r.runs !== undefined) {
    s += s.length > 1 ? ',"runs":[' : '"runs":[';
    for (let i = 0; i < r.runs.length; i++) s += (i === 0 ? '' : ',') + storedRunJson(r.runs[i]!);
    s += ']';
  }
  return `${add(add(s, 'tasks', r.tasks), 'progress', r.progress)}}`;
}

/** One of a result's `runs` as JSON, its members in the schema's order. */
function storedRunJson(r: RunView): string {
  let s = add(
    add(add(add('{', 'ticket', r.ticket), 'state', r.state), 'node', r.node),
    'attempt',
    r.attempt,
  );
  s = add(
    add(add(add(s, 'exitCode', r.exitCode), 'error', r.error), 'startedAt', r.startedAt),
    'finishedAt',
    r.finishedAt,
  );
  return `${s}}`;
}

/**
 * `s`, an object's JSON so far (`{` and its members), with `"key":value` added as
 * `JSON.stringify` writes it: nothing for a value it leaves out (undefined), a comma before
 * every member but the first.
 */
function add(s: string, key: string, value: unknown): string {
  let text: string | undefined;
  if (typeof value === 'string') text = jsonString(value);
  else if (typeof value === 'number') text = jsonNumber(value);
  else if (value === null) text = 'null';
  else if (value === undefined) return s;
  else text = JSON.stringify(value) as string | undefined;
  if (text === undefined) return s;
  return s.length > 1 ? `${s},"${key}":${text}` : `${s}"${key}":${text}`;
}

/** A time as a member, in ISO text (which needs no escaping). */
function time(s: string, key: string, ms: number): string {
  return s.length > 1 ? `${s},"${key}":"${iso(ms)}"` : `${s}"${key}":"${iso(ms)}"`;
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
