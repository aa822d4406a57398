import type { ProxyConfig } from '../shared/config.js';
import { Committer, type Db } from '../shared/db.js';
import { ChunkedSweep } from '../shared/expiry.js';
import type { Logger } from '../shared/log.js';
import { Reclaim } from '../shared/reclaim.js';
import { JobStore, type JobRecord } from './job-store.js';
import { CHECK_EVERY_MS } from './membership.js';
import { createPolicy } from './policies.js';
import type { GroupNodeStore } from './group-stores.js';
import { ScheduleStore, type ScheduleStorage } from './schedule-store.js';
import { TypeStore, type TypeStorage } from './type-store.js';
import { Scheduler } from './scheduler.js';

/** How often running tasks of `speculate` jobs are checked for stragglers. */
const SPECULATION_PERIOD_MS = 100;

/**
 * How long a new leader waits before dispatching: nodes that lost the old leader reconnect
 * within about a second (their backoff is capped there), and say what they hold.
 */
const TAKEOVER_SETTLE_MS = 750;

/** Where a term keeps schedules and types: etcd in a proxy group, else the proxy's own file. */
export interface TermStores {
  schedules: ScheduleStorage;
  types: TypeStorage;
  /** The group's nodes, known to every leader (see `GroupNodeStore`). */
  nodes?: GroupNodeStore;
}

/** How often nodes a term forgot are removed from the group's record of its nodes. */
const PRUNE_NODES_MS = 10_000;

/**
 * One term of this proxy as the cluster's scheduler: the scheduler rebuilt from the file, its
 * group commits and its timers. A single proxy has one term for its whole run; a proxy of a
 * group starts one each time it is elected and abandons it the moment it may no longer act.
 */
export class LeaderTerm {
  readonly committer: Committer;
  readonly scheduler: Scheduler;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly sweeps: Array<{ stop(): void }> = [];
  private ended = false;
  private readonly roster: GroupNodeStore | undefined;

  constructor(
    readonly epoch: number,
    private readonly db: Db,
    private readonly cfg: ProxyConfig,
    private readonly log: Logger,
    /** Whether this proxy may still act; checked before every commit and timer. */
    private readonly mayAct: () => boolean,
    onDbFailure: (err: Error) => void,
    /** A job reached its final state (for the latency metrics). */
    onFinished: (job: JobRecord) => void,
    /** The group's stores (etcd); without, this proxy's own file. */
    group?: TermStores,
  ) {
    this.committer = new Committer(db);
    this.committer.onFailure = onDbFailure;
    this.committer.onDiskFull = (full, err) => {
      // commits wait for space: nodes keep the jobs they forward until the proxy acks them,
      // and results reach their origins once recorded; nothing is refused or lost
      if (full)
        log.error({ err, dataDir: cfg.DATA_DIR }, 'the disk is full: commits wait for space');
      else log.info({ dataDir: cfg.DATA_DIR }, 'disk space is back: commits resumed');
    };
    this.committer.fence = () => !this.ended && mayAct();
    if (epoch > 0) forgetUnconfirmed(db, log);
    const schedules = group?.schedules ?? new ScheduleStore(db, this.committer);
    this.scheduler = new Scheduler(
      new JobStore(db, this.committer),
      this.committer,
      () => createPolicy(cfg.POLICY),
      {
        prefetch: cfg.PREFETCH,
        weights: cfg.TENANT_WEIGHTS,
        dispatchPeriod: cfg.DISPATCH_PERIOD,
        maxJobsPerDispatch: cfg.MAX_NUM_JOBS_DISPATCH,
        onFinished: (job) => {
          onFinished(job);
          schedules.runEnded(job.id);
        },
        settleMs: epoch > 0 ? TAKEOVER_SETTLE_MS : 0,
        askOrigins: epoch > 0,
        resultTtl: cfg.RESULT_TTL,
        phiThreshold: cfg.PHI_THRESHOLD,
        schedules,
        log,
      },
      group?.types ?? new TypeStore(db, this.committer),
    );
    this.roster = group?.nodes;
    // nodes of earlier leaders are away until they join this one (as after a proxy restart)
    if (this.roster) this.scheduler.expectNodes(this.roster.all());
  }

  /** A node joined this term: the group remembers it for the leaders after this one. */
  nodeJoined(id: string): void {
    this.roster?.joined(id);
  }

  /** NODE_TIMEOUT: a node silent this long is dead, whatever its connection looks like. */
  get nodeTimeout(): number {
    return this.cfg.NODE_TIMEOUT;
  }

  /** Whether this term still holds: not abandoned nor closed. */
  get active(): boolean {
    return !this.ended;
  }

  /** Starts the periodic work: failure detection, the sweep, expiry, periodic dispatch. */
  start(): void {
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(() => {
        if (!this.ended && this.mayAct()) fn();
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    const { cfg, scheduler } = this;
    const timeout = cfg.NODE_TIMEOUT;
    every(Math.min(CHECK_EVERY_MS, Math.floor(timeout / 4)), () => scheduler.expireSilent(timeout));
    every(SPECULATION_PERIOD_MS, () => scheduler.speculate());
    every(cfg.REQUEST_RESULT_PERIOD, () => scheduler.sweep(cfg.REQUEST_RESULT_PERIOD));
    // each step deletes a chunk, on its own turn of the event loop, while this term may act
    const expiry = new ChunkedSweep(() =>
      this.ended || !this.mayAct() ? 0 : scheduler.expire(cfg.RESULT_TTL),
    );
    // then the pages the expiry freed go back to the disk, a step per turn, on the same terms
    const reclaim = new Reclaim(this.db, this.log, {
      mayWrite: () => !this.ended && this.mayAct(),
    });
    this.sweeps.push(expiry, reclaim);
    every(Math.min(cfg.RESULT_TTL, 60_000), () =>
      expiry.run((n) => {
        if (n > 0) this.log.info({ deleted: n }, 'expired old results');
        reclaim.run();
      }),
    );
    if (cfg.DISPATCH_PERIOD > 0) every(cfg.DISPATCH_PERIOD, () => scheduler.periodicDispatch());
    const roster = this.roster;
    if (roster) {
      every(PRUNE_NODES_MS, () => {
        for (const id of roster.all()) if (!scheduler.nodes.has(id)) roster.forgotten(id);
      });
    }
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const s of this.sweeps) s.stop();
  }

  /**
   * Leadership is gone: nothing more is written or sent. What memory held is dropped
   * unwritten; the next term rebuilds from the file and from what the nodes say.
   */
  abandon(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopTimers();
    this.scheduler.halt();
    this.committer.stop();
  }

  /** A graceful stop while leading: commits everything and stops dispatching. */
  close(): void {
    if (this.ended) return;
    this.stopTimers();
    this.scheduler.stop();
  }

  /** After a graceful stop: commits what the closing connections queued, then ends. */
  finish(): void {
    if (this.ended) return;
    this.committer.flush();
    this.committer.stop();
    this.ended = true;
  }
}

/**
 * A proxy taking over a group cannot trust the unfinished jobs in its own file: another
 * leader may have run, finished and delivered them since. They are forgotten; every origin
 * sends its open tickets again to a new leader and every executor says what it holds, so what
 * is really still open comes back. Recorded results stay (they are pushed to origins that
 * still wait, and the origin keeps the first it recorded).
 */
export function forgetUnconfirmed(db: Db, log: Logger): void {
  const unconfirmed = "FROM jobs WHERE state IN ('queued', 'assigned', 'running')";
  // their keys too (an origin that sends such a job again gives its key again)
  db.prepare(
    `DELETE FROM keys WHERE (key, ticket) IN (SELECT json_extract(spec, '$.key'), id ${unconfirmed})`,
  ).run();
  const n = db.prepare(`DELETE ${unconfirmed}`).run().changes;
  if (n > 0)
    log.info({ jobs: n }, 'taking over: unfinished jobs wait for their origins to confirm them');
}
