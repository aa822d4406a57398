import { CANCELLED_BY_CLIENT, isTerminal, type JobSpec } from '../shared/job.js';
import { specViewFields, type JobResult, type JobView } from '../shared/job-view.js';
import { nextDue } from '../shared/schedule-clock.js';
import type { RunOutcome } from './job-runner.js';
import type { TicketState } from './ticket-store.js';

/** A client's view of a finished job. */
export function viewOfResult(
  id: string,
  spec: JobSpec,
  submittedAt: number,
  r: JobResult,
): JobView {
  const view: JobView = {
    ticket: id,
    state: r.state,
    exitCode: r.exitCode,
    output: r.output,
    error: r.error,
    node: r.node,
    attempts: r.attempt,
    submittedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    type: spec.type,
    args: spec.args,
    ...specViewFields(spec, submittedAt),
    ...scheduleFields(spec, submittedAt, isTerminal(r.state)),
    tenant: spec.tenant,
    progress: r.progress,
    tasks: r.tasks,
  };
  if (r.runs) view.runs = r.runs;
  return view;
}

/**
 * What a view says of a schedule (a job with cron) before the proxy says more: no runs yet, and
 * the next firing as the proxy computes it for a schedule it hears of (the first due time after
 * its acceptance here; one already past fires once, late, when the proxy has it), none once
 * it `ended` (cancelled).
 */
function scheduleFields(
  spec: JobSpec,
  submittedAt: number,
  ended: boolean,
): Pick<JobView, 'cron' | 'tz' | 'next' | 'runs'> {
  if (spec.cron === undefined) return {};
  const tz = spec.tz ?? 'UTC';
  const next = ended ? null : nextDue(spec.cron, tz, submittedAt);
  return { cron: spec.cron, tz, next, runs: [] };
}

/** A client's view of a job not finished yet. */
export function pendingView(
  id: string,
  spec: JobSpec,
  submittedAt: number,
  state: TicketState,
): JobView {
  const fields = specViewFields(spec, submittedAt);
  // what this node knows without the proxy: a job waits for its time, or for its dependencies
  let shown = clientState(state);
  if (shown === 'queued' && fields.runAt !== undefined && fields.runAt > Date.now()) {
    shown = 'scheduled';
  } else if (shown === 'queued' && spec.after !== undefined) shown = 'blocked';
  return {
    ticket: id,
    state: spec.cron !== undefined && !isTerminal(state) ? 'scheduled' : shown,
    attempts: 0,
    submittedAt,
    type: spec.type,
    args: spec.args,
    ...fields,
    ...scheduleFields(spec, submittedAt, isTerminal(state)),
    ...taskFields(spec, shown, isTerminal(state)),
  };
}

/**
 * What a view says of a job of many tasks before the proxy says more: none started yet (such a
 * job never runs without the proxy, which spreads its tasks), each task waiting as the job does.
 */
function taskFields(
  spec: JobSpec,
  shown: JobView['state'],
  ended: boolean,
): Pick<JobView, 'progress' | 'tasks'> {
  if (spec.tasks === undefined || ended) return {};
  const state = shown === 'scheduled' || shown === 'blocked' ? shown : 'queued';
  return {
    progress: { total: spec.tasks.length, done: 0, failed: 0, running: 0 },
    tasks: spec.tasks.map((_, index) => ({ index, state })),
  };
}

/** The result of one run, as the node that ran it records it. */
export function resultOf(
  id: string,
  node: string,
  attempt: number,
  o: RunOutcome,
  startedAt: number | null,
  finishedAt: number,
): JobResult {
  return {
    id,
    state: o.state,
    exitCode: o.exitCode,
    output: o.output,
    error: o.error,
    node,
    attempt,
    startedAt,
    finishedAt,
  };
}

/** The result of a job a client cancelled before any run of it started. */
export function cancelledBeforeRun(id: string, at: number, spec?: JobSpec): JobResult {
  const r: JobResult = {
    id,
    state: 'cancelled',
    exitCode: null,
    output: '',
    error: CANCELLED_BY_CLIENT,
    node: null,
    attempt: 0,
    startedAt: null,
    finishedAt: at,
  };
  if (spec?.tasks) {
    // as the proxy ends a job of many tasks cancelled: every task cancelled, counted as failed
    const n = spec.tasks.length;
    r.tasks = spec.tasks.map((_, index) => ({ index, state: 'cancelled' }));
    r.progress = { total: n, done: 0, failed: n, running: 0 };
  }
  return r;
}

/**
 * The end of a forwarded ticket whose result the proxy deleted at RESULT_TTL before this node,
 * its origin, came back for it: the job's outcome is unknown here, so it ends failed, `EXPIRED`.
 */
export function expiredUnread(id: string, at: number): JobResult {
  return {
    id,
    state: 'failed',
    exitCode: null,
    output: '',
    error: 'EXPIRED',
    node: null,
    attempt: 0,
    startedAt: null,
    finishedAt: at,
  };
}

/** What a client is told of a ticket's stored state. */
export function clientState(s: TicketState): JobView['state'] {
  return s === 'accepted' || s === 'forwarded' ? 'queued' : s;
}
