import { connectMany, errorCode, LineClient } from './line-client.js';
import { Samples, summarize, type Summary } from './stats.js';
import type { PlannedJob } from './workload.js';

/**
 * The load generator: many TCP clients speaking the node's line protocol. Each job is
 * `SUBMIT <command>` followed, on the same connection once the ticket is back, by
 * `WAIT <ticket> <ms>`: the WAIT reply is the moment the result reaches the client, so
 * completion is measured end to end without polling.
 */

/** Counts replies by error code. */
export type ErrorCounts = Record<string, number>;

function count(errors: ErrorCounts, reply: string): void {
  const code = errorCode(reply);
  errors[code] = (errors[code] ?? 0) + 1;
}

/** The longest WAIT a node accepts. */
const MAX_WAIT_MS = 3_600_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ClosedLoopOptions {
  readonly ports: readonly number[];
  readonly clients: number;
  /** Jobs each connection keeps in flight (pipelined). */
  readonly depth: number;
  /** What to SUBMIT, e.g. `echo x`. */
  readonly command: string;
  readonly warmupMs: number;
  /** Length of the measurement window after the warm-up; also the time cap with maxJobs. */
  readonly durationMs: number;
  /** Stop submitting after this many jobs (the memory scenario). */
  readonly maxJobs?: number;
  readonly recordLatency?: boolean;
  /** Called when the measurement window opens and closes (CPU snapshots). */
  readonly onWindowStart?: () => void;
  readonly onWindowEnd?: () => void;
  /** Bound on the wait for in-flight jobs after the window closes. */
  readonly drainMs?: number;
  /** Called with the running total each time a job's result reaches its client. */
  readonly onCompleted?: (completed: number) => void;
}

export interface ClosedLoopResult {
  readonly completedInWindow: number;
  readonly windowMs: number;
  readonly perSecond: number;
  readonly submitted: number;
  readonly completed: number;
  readonly errors: ErrorCounts;
  readonly latency: Summary | null;
  /** False when jobs were still in flight when the drain bound ran out. */
  readonly drained: boolean;
  readonly firstTicket: string | null;
  /**
   * From the first submit (connections already open) to the last result: with `maxJobs`, the
   * time the jobs took, free of the connecting before and of the 50 ms polls of the window.
   */
  readonly activeMs: number;
}

/**
 * Closed loop: `clients` connections, each keeping `depth` jobs in flight; a finished job is
 * replaced at once. Throughput is counted over the window after the warm-up.
 */
export async function closedLoop(opts: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const clients = await connectMany(opts.ports, opts.clients);
  const submitLine = `SUBMIT ${opts.command}`;
  // WAIT takes at most an hour: a longer run's jobs end long before that anyway
  const waitMs = Math.min(
    MAX_WAIT_MS,
    Math.max(10_000, opts.durationMs + opts.warmupMs + (opts.drainMs ?? 10_000)),
  );
  const maxJobs = opts.maxJobs ?? Number.POSITIVE_INFINITY;
  const latencies = opts.recordLatency ? new Samples(1 << 16) : null;
  const errors: ErrorCounts = {};
  let stopping = false;
  let inWindow = false;
  let inflight = 0;
  let submitted = 0;
  let completed = 0;
  let completedInWindow = 0;
  let firstTicket: string | null = null;
  let onIdle: (() => void) | null = null;

  const finish = (c: LineClient): void => {
    inflight--;
    issue(c);
    if (inflight === 0 && onIdle !== null) onIdle();
  };

  const issue = (c: LineClient): void => {
    if (stopping || c.isClosed || submitted >= maxJobs) return;
    submitted++;
    inflight++;
    const t0 = performance.now();
    c.send(submitLine, (r1) => {
      if (!r1.startsWith('OK ')) {
        count(errors, r1);
        finish(c);
        return;
      }
      const ticket = r1.slice(3);
      firstTicket ??= ticket;
      c.send(`WAIT ${ticket} ${waitMs}`, (r2) => {
        if (r2.startsWith('OK ') && r2.includes('"state":"done"')) {
          completed++;
          lastDoneAt = performance.now();
          opts.onCompleted?.(completed);
          if (inWindow) {
            completedInWindow++;
            latencies?.push(performance.now() - t0);
          }
        } else {
          count(errors, r2.startsWith('OK ') ? 'ERR NOT_DONE' : r2);
        }
        finish(c);
      });
    });
  };

  const firstIssueAt = performance.now();
  let lastDoneAt = firstIssueAt;
  for (const c of clients) for (let i = 0; i < opts.depth; i++) issue(c);

  await sleep(opts.warmupMs);
  opts.onWindowStart?.();
  const windowStart = performance.now();
  inWindow = true;
  const deadline = windowStart + opts.durationMs;
  // with maxJobs the run ends when every job is back; otherwise at the deadline
  while (performance.now() < deadline) {
    if (submitted >= maxJobs && inflight === 0) break;
    await sleep(Math.min(50, Math.max(1, deadline - performance.now())));
  }
  inWindow = false;
  const windowEnd = performance.now();
  opts.onWindowEnd?.();
  stopping = true;

  let drained = inflight === 0;
  if (!drained) {
    const idle = new Promise<void>((resolve) => (onIdle = resolve));
    drained = await Promise.race([
      idle.then(() => true),
      sleep(opts.drainMs ?? 10_000).then(() => false),
    ]);
  }
  for (const c of clients) c.close();
  const windowMs = windowEnd - windowStart;
  return {
    completedInWindow,
    windowMs,
    perSecond: (completedInWindow * 1000) / windowMs,
    submitted,
    completed,
    errors,
    latency: latencies === null ? null : summarize(latencies.values()),
    drained,
    firstTicket,
    activeMs: lastDoneAt - firstIssueAt,
  };
}

export interface OpenLoopOptions {
  readonly ports: readonly number[];
  readonly jobs: readonly PlannedJob[];
  /** Results not back this long after the run starts count as unfinished. */
  readonly deadlineMs: number;
  /** Connections opened per port before the run, so no job waits for a connect. */
  readonly prewarmPerPort: number;
  /** Above this many connections per port, a job shares a busy connection (pipelining). */
  readonly maxPerPort: number;
}

export interface OpenLoopResult {
  /** Per planned job, in plan order; times in ms since the run started, NaN if not known. */
  readonly sentAt: Float64Array;
  readonly ticketMs: Float64Array;
  readonly resultMs: Float64Array;
  /** From the job's own times: submitted → started, started → finished, finished → reply. */
  readonly startDelayMs: Float64Array;
  readonly runMs: Float64Array;
  readonly deliveryMs: Float64Array;
  /** Per planned job: the node that ran it (its result's `node`), undefined if not known. */
  readonly ranOn: Array<string | undefined>;
  /** Per planned job: the index in `ports` of the node it was submitted to. */
  readonly portOf: Uint16Array;
  readonly errors: ErrorCounts;
  /** How late sends were against the plan (timer granularity), ms. */
  readonly lateness: Summary;
  /** Jobs that had to queue behind another job on a shared connection. */
  readonly sharedSends: number;
  readonly connections: number;
  readonly unfinished: number;
}

interface Conn {
  readonly client: LineClient;
  idle: boolean;
}

/**
 * Open loop: jobs are sent at their planned times whatever the cluster does. Each job uses
 * an idle connection (one job per connection at a time, so no reply waits behind another
 * job's WAIT); new connections are opened as needed up to `maxPerPort`.
 */
export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const n = opts.jobs.length;
  const sentAt = new Float64Array(n).fill(NaN);
  const ticketMs = new Float64Array(n).fill(NaN);
  const resultMs = new Float64Array(n).fill(NaN);
  const late = new Samples(n);
  const startDelayMs = new Float64Array(n).fill(NaN);
  const runMs = new Float64Array(n).fill(NaN);
  const deliveryMs = new Float64Array(n).fill(NaN);
  const ranOn = new Array<string | undefined>(n);
  const portOf = new Uint16Array(n);
  // the job's own times (ms resolution, one clock on this machine) split the response
  const phases = (json: string, i: number): void => {
    try {
      const v = JSON.parse(json) as {
        submittedAt?: string;
        startedAt?: string;
        finishedAt?: string;
        node?: string;
      };
      ranOn[i] = v.node;
      const submitted = Date.parse(v.submittedAt ?? '');
      const started = Date.parse(v.startedAt ?? '');
      const finished = Date.parse(v.finishedAt ?? '');
      startDelayMs[i] = started - submitted;
      runMs[i] = finished - started;
      deliveryMs[i] = Date.now() - finished;
    } catch {
      // a reply without times only loses the breakdown
    }
  };
  const errors: ErrorCounts = {};
  const pools = opts.ports.map(() => ({ all: [] as Conn[], idle: [] as Conn[], opening: 0 }));
  let sharedSends = 0;
  let outstanding = n;
  let onAllDone: (() => void) | null = null;

  for (let p = 0; p < opts.ports.length; p++) {
    const clients = await connectMany([opts.ports[p] as number], opts.prewarmPerPort);
    const pool = pools[p];
    for (const client of clients) {
      const conn = { client, idle: true };
      pool?.all.push(conn);
      pool?.idle.push(conn);
    }
  }

  const release = (p: number, conn: Conn): void => {
    if (conn.client.pending === 0 && !conn.idle && !conn.client.isClosed) {
      conn.idle = true;
      pools[p]?.idle.push(conn);
    }
  };
  const done = (): void => {
    outstanding--;
    if (outstanding === 0 && onAllDone !== null) onAllDone();
  };

  const acquire = async (p: number): Promise<Conn> => {
    const pool = pools[p];
    if (pool === undefined) throw new Error('no such port');
    const idle = pool.idle.pop();
    if (idle !== undefined) {
      idle.idle = false;
      return idle;
    }
    if (pool.all.length + pool.opening < opts.maxPerPort) {
      pool.opening++;
      try {
        const conn = { client: await LineClient.connect(opts.ports[p] as number), idle: false };
        pool.all.push(conn);
        return conn;
      } finally {
        pool.opening--;
      }
    }
    sharedSends++;
    let best = pool.all[0] as Conn;
    for (const c of pool.all) if (c.client.pending < best.client.pending) best = c;
    best.idle = false;
    const at = pool.idle.indexOf(best);
    if (at >= 0) pool.idle.splice(at, 1);
    return best;
  };

  const start = performance.now();
  const runJob = async (i: number, job: PlannedJob): Promise<void> => {
    const p = i % opts.ports.length;
    portOf[i] = p;
    let conn: Conn;
    try {
      conn = await acquire(p);
    } catch (err) {
      count(errors, `ERR CONNECT ${(err as Error).message}`);
      done();
      return;
    }
    const t0 = performance.now();
    sentAt[i] = t0 - start;
    late.push(t0 - start - job.at);
    conn.client.send(`SUBMIT ${job.command}`, (r1) => {
      const t1 = performance.now();
      if (!r1.startsWith('OK ')) {
        count(errors, r1);
        release(p, conn);
        done();
        return;
      }
      ticketMs[i] = t1 - t0;
      const waitFor = Math.max(1, Math.round(start + opts.deadlineMs - t1));
      conn.client.send(`WAIT ${r1.slice(3)} ${waitFor}`, (r2) => {
        if (r2.startsWith('OK ')) {
          resultMs[i] = performance.now() - t0;
          phases(r2.slice(3), i);
        } else count(errors, r2);
        release(p, conn);
        done();
      });
    });
  };

  // The sender: every job whose time has come goes out, then a timer until the next one. It
  // never waits busily for a time less than the timer's millisecond: that would take one of
  // the machine's cores from the cluster being measured whenever jobs come close together.
  // A send is then up to a millisecond late (counted in `lateness`); each job's times are
  // taken from its actual send. The paced floor and beanstalkd's paced puts wait the same way.
  let next = 0;
  while (next < n) {
    const now = performance.now() - start;
    while (next < n && (opts.jobs[next] as PlannedJob).at <= now) {
      void runJob(next, opts.jobs[next] as PlannedJob);
      next++;
    }
    if (next < n) {
      const wait = (opts.jobs[next] as PlannedJob).at - (performance.now() - start);
      await sleep(Math.max(1, Math.ceil(wait)));
    }
  }

  const remaining = start + opts.deadlineMs + 2000 - performance.now();
  if (outstanding > 0) {
    await Promise.race([
      new Promise<void>((resolve) => (onAllDone = resolve)),
      sleep(Math.max(0, remaining)),
    ]);
  }
  let unfinished = 0;
  for (let i = 0; i < n; i++) if (Number.isNaN(resultMs[i] as number)) unfinished++;
  let connections = 0;
  for (const pool of pools) {
    connections += pool.all.length;
    for (const c of pool.all) c.client.close();
  }
  return {
    sentAt,
    ticketMs,
    resultMs,
    startDelayMs,
    runMs,
    deliveryMs,
    ranOn,
    portOf,
    errors,
    lateness: summarize(late.values()),
    sharedSends,
    connections,
    unfinished,
  };
}
