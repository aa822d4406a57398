import { CANCELLED_BY_CLIENT, type JobSpec } from '../shared/job.js';
import type { JobResult, Progress, TaskView } from '../shared/job-view.js';

/**
 * Jobs of many tasks (Sparrow's jobs): what one task runs, and what the job's result says of
 * its tasks. Plain functions: the scheduler keeps each task as a durable job of its own.
 */

/** The most a RESULT or WAIT reply of a job of tasks may take. */
export const MAX_REPLY_BYTES = 1024 * 1024;
/** What the rest of the reply (ticket, times, counts) may take beside the tasks. */
const REPLY_OVERHEAD = 8 * 1024;

/** One run's spec: the task's own run fields and the job's placement, retry and tenant. */
export function taskSpec(job: JobSpec, index: number): JobSpec {
  const task = job.tasks?.[index];
  if (!task) throw new RangeError(`the job has no task ${index}`);
  const spec: JobSpec = { ...task, priority: job.priority, maxAttempts: job.maxAttempts };
  if (job.retry) spec.retry = job.retry;
  if (job.constraints) spec.constraints = job.constraints;
  if (job.resources) spec.resources = job.resources;
  if (job.tenant) spec.tenant = job.tenant;
  return spec;
}

/** What the job's result needs of one task. */
export interface TaskLike {
  readonly index: number | null;
  readonly state: string;
  readonly node: string | null;
  readonly startedAt: number | null;
  readonly result: JobResult | null;
}

const finished = (s: string) => s === 'done' || s === 'failed' || s === 'cancelled';

/** Counts of the tasks: cancelled ones count as failed (they did not succeed). */
export function progressOf(tasks: readonly TaskLike[]): Progress {
  const p: Progress = { total: tasks.length, done: 0, failed: 0, running: 0 };
  for (const t of tasks) {
    if (t.state === 'done') p.done++;
    else if (t.state === 'failed' || t.state === 'cancelled') p.failed++;
    else if (t.state === 'running') p.running++;
  }
  return p;
}

/**
 * The job's state from its tasks: `queued` until one starts, `running` until the last ends,
 * then `cancelled` (when cancelled), `failed` (a task failed), or `done`.
 */
export function stateOf(
  tasks: readonly TaskLike[],
  cancelled: boolean,
): 'queued' | 'running' | 'done' | 'failed' | 'cancelled' {
  let open = 0;
  let started = false;
  let failed = false;
  for (const t of tasks) {
    if (!finished(t.state)) open++;
    if (t.state !== 'queued' && t.state !== 'assigned') started = true;
    if (t.state === 'failed' || t.state === 'cancelled') failed = true;
  }
  if (open > 0) return started ? 'running' : 'queued';
  if (cancelled) return 'cancelled';
  return failed ? 'failed' : 'done';
}

/** The JSON size of a string as it appears in a reply. */
const jsonBytes = (s: string) => Buffer.byteLength(JSON.stringify(s));

/**
 * `text` cut to at most `max` bytes of JSON, keeping its head and its tail with a marker
 * saying how much was dropped between them.
 */
export function clip(text: string, max: number): string {
  if (jsonBytes(text) <= max) return text;
  const marker = (n: number) => `[…${n} dropped…]`;
  const room = max - jsonBytes(marker(text.length));
  for (let keep = Math.max(0, Math.floor(room / 2)); ; keep = Math.floor(keep * 0.8)) {
    const tail = keep > 0 ? text.slice(-keep) : '';
    const out = text.slice(0, keep) + marker(text.length - 2 * keep) + tail;
    if (jsonBytes(out) <= max) return out;
    if (keep === 0) return '';
  }
}

/**
 * One entry per task, outputs clipped so that all of them fit `budget` bytes of JSON: what is
 * left after the entries themselves is shared equally among the tasks that printed something.
 */
export function taskViews(
  tasks: readonly TaskLike[],
  budget = MAX_REPLY_BYTES - REPLY_OVERHEAD,
): TaskView[] {
  const views: TaskView[] = tasks.map((t, i) => {
    const r = t.result;
    const state = t.state === 'assigned' ? 'queued' : (t.state as TaskView['state']);
    const v: TaskView = { index: t.index ?? i, state };
    if (r?.exitCode !== undefined && r.exitCode !== null) v.exitCode = r.exitCode;
    if (r?.error) v.error = clip(r.error, 200);
    const node = r?.node ?? t.node;
    if (node) v.node = node;
    return v;
  });
  const skeleton = Buffer.byteLength(JSON.stringify(views));
  const printed = tasks.filter((t) => t.result?.output).length;
  if (printed === 0) return views;
  // each output adds `,"output":` (10 bytes) beside its JSON text
  const share = Math.floor((budget - skeleton) / printed) - 10;
  if (share <= 2) return views;
  tasks.forEach((t, i) => {
    const text = t.result?.output;
    if (text) (views[i] as TaskView).output = clip(text, share);
  });
  return views;
}

/** The job's result once every task ended. */
export function jobResult(
  id: string,
  tasks: readonly TaskLike[],
  cancelled: boolean,
  now: number,
): JobResult {
  const state = stateOf(tasks, cancelled) as JobResult['state'];
  const progress = progressOf(tasks);
  let startedAt: number | null = null;
  let finishedAt = 0;
  for (const t of tasks) {
    const s = t.result?.startedAt ?? t.startedAt;
    if (s !== null && (startedAt === null || s < startedAt)) startedAt = s;
    finishedAt = Math.max(finishedAt, t.result?.finishedAt ?? 0);
  }
  let error: string | null = null;
  if (state === 'failed') error = `${progress.failed} of ${progress.total} tasks failed`;
  if (state === 'cancelled') error = CANCELLED_BY_CLIENT;
  return {
    id,
    state,
    exitCode: state === 'done' ? 0 : null,
    output: '',
    error,
    node: null,
    attempt: 1,
    startedAt,
    finishedAt: finishedAt || now,
    progress,
    tasks: taskViews(tasks),
  };
}
