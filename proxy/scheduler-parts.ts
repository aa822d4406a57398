import type { Committer } from '../shared/db.js';
import type { Logger } from '../shared/log.js';
import { Assignments } from './assignments.js';
import { Cancels } from './cancels.js';
import { Counters } from './counters.js';
import { Holding } from './holding.js';
import { Intake } from './intake.js';
import type { JobRecord, JobStore } from './job-store.js';
import { JobTable } from './job-table.js';
import { JobTasks } from './job-tasks.js';
import { LogRelay } from './log-relay.js';
import { DEFAULT_DETECTOR } from './failure-detector.js';
import type { FrameRoutes } from './frame-router.js';
import { Membership, type NodeEntry } from './membership.js';
import { NodeReports } from './node-reports.js';
import { NodeSessions } from './node-sessions.js';
import { OriginLookups } from './origin-lookups.js';
import { Outbox } from './outbox.js';
import type { Policy } from './policies.js';
import { Rerun } from './rerun.js';
import { Results } from './results.js';
import type { TypeStorage } from './type-store.js';
import { JobTypes } from './job-types.js';
import type { ScheduleStorage } from './schedule-store.js';
import { Schedules } from './schedules.js';
import { TicketViews } from './ticket-views.js';
import { UndeliveredResults } from './undelivered.js';

export interface SchedulerOptions {
  prefetch: number;
  /** 0: dispatch on every event; > 0: the seed's periodic batched dispatch. */
  dispatchPeriod: number;
  maxJobsPerDispatch: number;
  /** Failure detection's phi threshold (0: NODE_TIMEOUT only). */
  phiThreshold?: number;
  /** TENANT_WEIGHTS. */
  weights?: ReadonlyMap<string, number>;
  /** A proxy taking over a group waits this long for the nodes' holds before dispatching. */
  settleMs?: number;
  /** Tickets unknown here are asked of the nodes (a proxy that took over a group). */
  askOrigins?: boolean;
  /** RESULT_TTL: a ticket younger than it cannot have expired here (see `TicketViews`). */
  resultTtl?: number;
  log: Logger;
  /** Told when a job reaches its final state (the proxy's latency metrics). */
  onFinished?: (job: JobRecord) => void;
  /** The schedules' table (same database and commits as the jobs). */
  schedules: ScheduleStorage;
}

/** The proxy's concepts, each wired to the others it tells (see `Scheduler`). */
export interface SchedulerParts {
  members: Membership;
  table: JobTable;
  outbox: Outbox;
  lookups: OriginLookups;
  counters: Counters;
  assignments: Assignments;
  results: Results;
  intake: Intake;
  schedules: Schedules;
  logs: LogRelay;
  types: JobTypes;
  tasks: JobTasks;
  holding: Holding;
  rerun: Rerun;
  views: TicketViews;
  sessions: NodeSessions;
  reports: NodeReports;
  cancels: Cancels;
  undelivered: UndeliveredResults;
  routes: FrameRoutes;
}

/**
 * Builds the proxy's concepts over one job store and one committer. Each part is told of the
 * others through closures, since several tell each other (results end tasks, tasks finish
 * through results).
 */
export function assembleParts(
  store: JobStore,
  committer: Committer,
  newPolicy: () => Policy,
  opts: SchedulerOptions,
  typeStore: TypeStorage,
): SchedulerParts {
  const members = new Membership();
  const outbox = new Outbox();
  const lookups = new OriginLookups(1000);
  const logs = new LogRelay((id) => members.get(id)?.conn);
  /** Queues a frame for a node, if connected, and sends it once what is queued is committed. */
  const toNode = (id: string, queue: (n: NodeEntry) => unknown): void => {
    const n = members.get(id);
    if (!n?.conn) return;
    queue(n);
    committer.afterCommit(() => outbox.flush());
  };
  const types = new JobTypes(typeStore, members, opts.log);
  members.phiThreshold = opts.phiThreshold ?? DEFAULT_DETECTOR.threshold;
  const table = new JobTable(store);
  const counters = new Counters(store.counters());
  const assignments = new Assignments(newPolicy, opts, {
    store,
    members,
    outbox,
    counters,
    committer,
    fail: (job, r) => results.finish(job, r, false),
    mayQueue: (job) => tasks.mayQueue(job),
  });
  const holding = new Holding({
    table,
    ready: (job) => {
      // a job of many tasks is never dispatched itself: its tasks are, each a job of its own
      if (job.spec.tasks) tasks.accept(job);
      else assignments.enqueue(job);
      assignments.want();
    },
    doom: (job, error) => cancels.doom(job, error),
    waitFor: (unknown, deadline, retry) => intake.waitFor(unknown, deadline, retry),
    log: opts.log,
  });
  const results: Results = new Results({
    table,
    store,
    members,
    outbox,
    counters,
    committer,
    log: opts.log,
    release: (job, reporter) => {
      assignments.release(job, reporter);
      holding.remove(job);
      tasks.released(job);
    },
    reported: (n, job, r) => assignments.noteReported(n, job, r),
    hold: (job) => holding.admit(job),
    settled: (job) => holding.settled(job),
    finished: opts.onFinished,
    taskEnded: (task) => tasks.taskEnded(task),
    delivered: (job) => tasks.delivered(job),
    expired: (id) => undelivered.expiredHere(id),
  });
  const tasks: JobTasks = new JobTasks({
    table,
    store,
    assignments,
    members,
    counters,
    log: opts.log,
    finish: (job, r) => results.finish(job, r, false),
  });
  const intake: Intake = new Intake({
    table,
    store,
    holding,
    results,
    members,
    outbox,
    counters,
    committer,
    startedHere: (job, n) => assignments.startedHere(job, n),
    isSchedule: (id) => schedules.has(id),
    finished: (job) => opts.onFinished?.(job),
    log: opts.log,
  });
  const schedules: Schedules = new Schedules({
    store: opts.schedules,
    issue: (job) => intake.issue(job),
    stateOf: (ticket) => table.view(ticket)?.state ?? null,
    ack: (origin, id) => toNode(origin, (n) => outbox.ack(n, 'job', id)),
    ended: (origin, r) => toNode(origin, (n) => outbox.result(n, JSON.stringify(r))),
    log: opts.log,
  });
  const rerun = new Rerun({ table, store, holding, members, committer, tasks, schedules });
  const undelivered: UndeliveredResults = new UndeliveredResults({
    rows: store.undelivered,
    table,
    dropTasks: (job) => tasks.delivered(job), // as on delivery; their rows are gone
    isSchedule: (id) => schedules.has(id),
    log: opts.log,
  });
  const log = opts.log;
  const { askOrigins, resultTtl } = opts;
  const views = new TicketViews({
    table,
    assignments,
    schedules,
    tasks,
    types,
    members,
    lookups,
    askOrigins,
    resultTtl,
  });
  const sessions = new NodeSessions({
    table,
    assignments,
    intake,
    tasks,
    count: counters,
    members,
    results,
    rerun,
    types,
    lookups,
    logs,
    log,
  });
  const reports = new NodeReports({ table, assignments, results, schedules, members, outbox });
  const cancels: Cancels = new Cancels({ table, results, schedules, tasks, views, committer });
  const routes = { members, assignments, sessions, reports, intake, schedules, rerun, results };
  return {
    members,
    table,
    outbox,
    lookups,
    counters,
    assignments,
    results,
    intake,
    schedules,
    logs,
    types,
    tasks,
    holding,
    rerun,
    views,
    sessions,
    reports,
    cancels,
    undelivered,
    routes: { ...routes, lookups, views, cancels, logs },
  };
}
