import type Database from 'better-sqlite3';
import type { Committer, Db } from '../shared/db.js';
import { EXPIRE_CHUNK } from '../shared/expiry.js';
import { ticketFloor } from '../shared/ids.js';
import type { JobSpec } from '../shared/job.js';
import type { JobResult, RunView } from '../shared/job-view.js';
import { resultJson, specJson, type JobTexts } from './job-text.js';
import { LIST_BOUNDS, readPage, type Page, type PageBounds } from './job-pages.js';
import {
  extentSql,
  finishValues,
  fromRaw,
  listSql,
  runsColumn,
  type FinishValues,
  type Raw,
  type WindowArgs,
} from './job-rows.js';
import { upgradeJobs } from './schema.js';
import { UndeliveredRows } from './undelivered-store.js';

export type ProxyState =
  'scheduled' | 'blocked' | 'queued' | 'assigned' | 'running' | 'done' | 'failed' | 'cancelled';

/** A job as the proxy stores it. */
export interface JobRecord {
  id: string;
  spec: JobSpec;
  origin: string;
  submittedAt: number;
  seq: number;
  state: ProxyState;
  node: string | null;
  attempt: number;
  lostRuns: number;
  placed: boolean;
  /** Every node this job was ever given to: only they may report its result. */
  given: string[];
  startedAt: number | null;
  result: JobResult | null;
  delivered: boolean;
  /** A task: the ticket of its job of many tasks, and its index there. */
  parent: string | null;
  index: number | null;
  /** Scheduled: when it may run (its delay, or its retry's backoff, ends). */
  dueAt: number | null;
  /** Runs that failed (the retry policy's count; lost runs are `lostRuns`). */
  failedRuns: number;
  /** Every run so far, for the result's `runs`. */
  runs: RunView[];
}

/** The most tickets one delivered-flag statement names. */
const DELIVERED_CHUNK = 64;

/** What `list` may filter on. */
export interface ListFilter {
  /** Stored states to include (none: all). */
  states?: readonly ProxyState[];
  tenant?: string;
  limit: number;
  /** Only jobs older than this ticket (the `next` of the page before). */
  before?: string;
}

type Extent = { n: number; oldest: string | null };
type ExtentArgs = [{ before: string; window: number }];

/** The proxy's durable job table. Writes go through the group commit; reads are direct. */
export class JobStore {
  private readonly sql;
  /** `UPDATE … delivered = 1` of exactly n tickets, by n (made when first needed). */
  private readonly deliveredOf: Database.Statement<[string[]]>[] = [];
  /** Results whose origin never came back for them (see undelivered-store.ts). */
  readonly undelivered: UndeliveredRows;

  constructor(
    private readonly db: Db,
    private readonly committer: Committer,
  ) {
    upgradeJobs(db);
    this.undelivered = new UndeliveredRows(db);
    this.sql = {
      // positional: binding by name costs a lookup per column on every job
      insert: db.prepare(
        `INSERT OR IGNORE INTO jobs (id, spec, origin, submitted_at, seq, state, node, attempt,
           given, result, finished_at, delivered, due_at, parent, task_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      save: db.prepare(
        `UPDATE jobs SET state = @state, node = @node, attempt = @attempt, lost_runs = @lostRuns,
           failed_runs = @failedRuns, given = @given, result = @result, finished_at = @finishedAt,
           delivered = @delivered, due_at = @dueAt, runs = @runs WHERE id = @id`,
      ),
      insertKey: db.prepare('INSERT OR REPLACE INTO keys (key, ticket) VALUES (?, ?)'),
      getKey: db.prepare<[string], { ticket: string }>('SELECT ticket FROM keys WHERE key = ?'),
      // the list's windows: of the primary key, or of a state's partial index
      list: {
        all: db.prepare<[WindowArgs], Raw>(listSql()),
        failed: db.prepare<[WindowArgs], Raw>(listSql('failed')),
        cancelled: db.prepare<[WindowArgs], Raw>(listSql('cancelled')),
      },
      extent: {
        all: db.prepare<ExtentArgs, Extent>(extentSql()),
        failed: db.prepare<ExtentArgs, Extent>(extentSql('failed')),
        cancelled: db.prepare<ExtentArgs, Extent>(extentSql('cancelled')),
      },
      assign: db.prepare(
        `UPDATE jobs SET state = 'assigned', node = ?, attempt = ?, given = ?
         WHERE id = ?`,
      ),
      requeue: db.prepare(
        "UPDATE jobs SET state = 'queued', node = NULL, lost_runs = ?, attempt = ? WHERE id = ?",
      ),
      finish: db.prepare<FinishValues>(
        `UPDATE jobs SET state = ?, result = ?, finished_at = ?, node = ?, delivered = ?, runs = ?
         WHERE id = ?`,
      ),
      makeTask: db.prepare(
        'UPDATE jobs SET parent = ?, task_index = ?, delivered = 0 WHERE id = ?',
      ),
      get: db.prepare<[string], Raw>('SELECT * FROM jobs WHERE id = ?'),
      stored: db
        .prepare<[string], string>(
          'SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?))',
        )
        .pluck(),
      live: db.prepare<[], Raw>('SELECT * FROM jobs WHERE delivered = 0 ORDER BY seq'),
      maxSeq: db.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM jobs'),
      expiring: db.prepare<[string, number, number], { id: string; key: string | null }>(
        `SELECT id, json_extract(spec, '$.key') AS key FROM jobs
         WHERE id < ? AND finished_at < ? AND delivered = 1 LIMIT ?`,
      ),
      deleteJob: db.prepare('DELETE FROM jobs WHERE id = ?'),
      deleteKey: db.prepare('DELETE FROM keys WHERE key = ? AND ticket = ?'),
      counters: db.prepare<[], { name: string; value: number }>('SELECT * FROM counters'),
      setCounter: db.prepare(
        'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  /**
   * Inserts a new job. The row is built when the transaction runs, so a job dispatched in the
   * same tick is stored already assigned, in one statement; `j.stored` tells later writes
   * whether the row exists.
   */
  insert(
    j: JobRecord & JobTexts & { stored?: boolean },
    after?: (err?: Error) => void,
    opts: { lazy?: boolean } = {},
  ): void {
    const spec = specJson(j);
    this.committer.write(() => this.insertRow(j, spec), after, opts);
  }

  /**
   * Inserts a job whose result its origin decided, unless its ticket has a row already (a
   * resend of one stored and delivered). Inside the transaction `settle` is told the row found
   * there (undefined: this insert made it) and may hand back that job, its result replaced, to
   * be written over it in the same transaction: what is acked after the commit never precedes
   * it. `settle` runs once; a batch a full disk rolled back runs again with its first answer.
   * `after` only acknowledges (see the Committer's lazy writes).
   */
  insertDecided(
    j: JobRecord & JobTexts,
    settle: (stored: JobRecord | undefined) => JobRecord | undefined,
    after: (err?: Error) => void,
  ): void {
    const spec = specJson(j);
    let settled = false;
    let over: FinishValues | undefined;
    this.committer.write(
      () => {
        const made = this.insertRow(j, spec);
        if (!settled) {
          const rec = settle(made ? undefined : this.get(j.id));
          over = rec && finishValues(rec);
          settled = true;
        }
        if (over) this.sql.finish.run(...over);
      },
      after,
      { lazy: true },
    );
  }

  /** Runs the insert of `j`; false when its ticket had a row already (nothing written). */
  private insertRow(j: JobRecord & JobTexts & { stored?: boolean }, spec: string): boolean {
    const made = this.sql.insert.run(
      j.id,
      spec,
      j.origin,
      j.submittedAt,
      j.seq,
      j.state === 'running' ? 'assigned' : j.state,
      j.node,
      j.attempt,
      j.given.join(','),
      j.result ? resultJson(j) : null,
      j.result?.finishedAt ?? null,
      j.delivered ? 1 : 0,
      j.dueAt,
      j.parent,
      j.index,
    ).changes;
    if (j.spec.key !== undefined) this.sql.insertKey.run(j.spec.key, j.id);
    j.stored = true;
    return made === 1;
  }

  /**
   * Writes every changing column of a job: for the lifecycle's rarer steps (a retry waiting
   * for its backoff, a job run again by RETRY), not the hot path.
   */
  save(j: JobRecord, after?: (err?: Error) => void): void {
    const row = {
      id: j.id,
      state: j.state === 'running' ? 'assigned' : j.state,
      node: j.node,
      attempt: j.attempt,
      lostRuns: j.lostRuns,
      failedRuns: j.failedRuns,
      given: j.given.join(','),
      result: j.result ? JSON.stringify(j.result) : null,
      finishedAt: j.result?.finishedAt ?? null,
      delivered: j.delivered ? 1 : 0,
      dueAt: j.dueAt,
      runs: runsColumn(j),
    };
    this.committer.write(() => this.sql.save.run(row), after);
  }

  /** The ticket an idempotency key names, if any. */
  keyTicket(key: string): string | undefined {
    return this.sql.getKey.get(key)?.ticket;
  }

  /**
   * The newest jobs, filtered (`tenant` compares the spec's tenant), older than `before`: a
   * page read in windows within `bounds`, so a filter few jobs match costs a bounded read.
   */
  list(f: ListFilter, bounds: PageBounds = LIST_BOUNDS): Page<JobRecord> {
    const tenant = f.tenant ?? null;
    const only = f.states?.length === 1 ? f.states[0] : undefined;
    // failed, cancelled: read from that state's partial index
    const from = only === 'failed' || only === 'cancelled' ? only : 'all';
    const states = from === 'all' && f.states ? JSON.stringify(f.states) : null;
    const page = readPage<Raw>(
      {
        matching: (before, window, need) =>
          this.sql.list[from].all({ states, tenant, before, window, need }),
        extent: (before, window) => this.sql.extent[from].get({ before, window }) as Extent,
      },
      f.limit,
      f.before,
      bounds,
    );
    return { ...page, rows: page.rows.map(fromRaw) };
  }

  assign(j: JobRecord, after?: (err?: Error) => void): void {
    const { node, attempt, id } = j;
    const given = j.given.join(',');
    this.committer.write(() => this.sql.assign.run(node, attempt, given, id), after);
  }

  requeue(j: JobRecord): void {
    const { lostRuns, attempt, id } = j;
    this.committer.write(() => this.sql.requeue.run(lostRuns, attempt, id));
  }

  /** Writes a job's result; `lazy`: `after` promises no client anything (a lazy write). */
  finish(
    j: JobRecord & JobTexts,
    after?: (err?: Error) => void,
    opts: { lazy?: boolean } = {},
  ): void {
    const values = finishValues(j);
    this.committer.write(() => this.sql.finish.run(...values), after, opts);
  }

  /** A copy adopted as a job of its own turns out to be task `index` of `parent`. */
  makeTask(id: string, parent: string, index: number): void {
    this.committer.write(() => this.sql.makeTask.run(parent, index, id));
  }

  /** Notes the origin's ACK; deferred (a crash only pushes the result again). */
  delivered(ids: readonly string[]): void {
    this.committer.defer(() => {
      for (let at = 0; at < ids.length; at += DELIVERED_CHUNK) {
        const chunk = ids.slice(at, at + DELIVERED_CHUNK);
        this.deliveredStatement(chunk.length).run(chunk);
      }
    });
  }

  /**
   * One statement per acknowledgement rather than one per ticket: a run of a statement costs
   * about as much as the row it finds, and an origin acks its results in batches. `OR IGNORE`
   * changes no outcome (setting the flag breaks no constraint) but tells SQLite the statement
   * never stops halfway, so it keeps no journal of the pages it changes to undo itself alone.
   */
  private deliveredStatement(n: number): Database.Statement<[string[]]> {
    return (this.deliveredOf[n] ??= this.db.prepare<[string[]]>(
      `UPDATE OR IGNORE jobs SET delivered = 1 WHERE id IN (${'?,'.repeat(n - 1)}?)`,
    ));
  }

  get(id: string): JobRecord | undefined {
    const raw = this.sql.get.get(id);
    return raw && fromRaw(raw);
  }

  /**
   * Which of `ids` have a row: one statement per 10,000 instead of a read each (a node's HELLO
   * may name hundreds of thousands of copies the proxy has forgotten; a read each took seconds).
   */
  storedAmong(ids: readonly string[]): Set<string> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 10_000) {
      const chunk = JSON.stringify(ids.slice(i, i + 10_000));
      for (const id of this.sql.stored.all(chunk)) found.add(id);
    }
    return found;
  }

  /**
   * Jobs not finished, or finished but not yet delivered to their origin (those older than
   * RESULT_TTL leave with `undelivered`).
   */
  live(): JobRecord[] {
    return this.sql.live.all().map(fromRaw);
  }

  maxSeq(): number {
    return this.sql.maxSeq.get()?.m ?? 0;
  }

  /**
   * Deletes delivered results that finished before `before` (they were submitted before it),
   * at most `limit` of them (see shared/expiry.ts); returns how many.
   */
  expire(before: number, limit = EXPIRE_CHUNK): number {
    const { expiring, deleteJob, deleteKey } = this.sql;
    // a key goes with its job's row, found by the key the spec holds: a sweep of the whole
    // keys table per chunk held the event loop half a second per million keys
    return this.db.transaction(() => {
      const rows = expiring.all(ticketFloor(before), before, limit);
      for (const r of rows) {
        deleteJob.run(r.id);
        if (r.key !== null) deleteKey.run(r.key, r.id);
      }
      return rows.length;
    })();
  }

  counters(): Record<string, number> {
    return Object.fromEntries(this.sql.counters.all().map((r) => [r.name, r.value]));
  }

  /** Saves the counters `take` gives when the transaction runs (none: nothing to save). */
  saveCounters(take: () => Readonly<Record<string, number | undefined>> | undefined): void {
    this.committer.write(() => {
      for (const [k, v] of Object.entries(take() ?? {}))
        if (v !== undefined) this.sql.setCounter.run(k, v);
    });
  }
}
