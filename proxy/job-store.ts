import type Database from 'better-sqlite3';
import { ensureColumns, type Committer, type Db } from '../shared/db.js';
import { EXPIRE_CHUNK } from '../shared/expiry.js';
import { ticketFloor } from '../shared/ids.js';
import type { JobSpec } from '../shared/job.js';
import type { JobResult, RunView } from '../shared/job-view.js';
import { resultJson, specJson, type JobTexts } from './job-text.js';

export const PROXY_SCHEMA = `
-- Every job the proxy acknowledged. state: scheduled (waiting for due_at: a delay or a retry's
-- backoff), blocked (waiting for its after tickets), queued, assigned (given to node), done,
-- failed, cancelled; whether the node acked it and whether it runs yet are kept in memory (a node's
-- HELLO says both again). delivered = 1 once the origin acked the final result; until then
-- the result is pushed again after every rejoin and sweep.
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  origin TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  node TEXT,
  attempt INTEGER NOT NULL DEFAULT 0,
  lost_runs INTEGER NOT NULL DEFAULT 0,
  given TEXT NOT NULL DEFAULT '',
  started_at INTEGER,
  result TEXT,
  finished_at INTEGER,
  delivered INTEGER NOT NULL DEFAULT 0,
  -- a task of a job of many tasks: its job's ticket and its index there
  parent TEXT,
  task_index INTEGER,
  due_at INTEGER,
  failed_runs INTEGER NOT NULL DEFAULT 0,
  runs TEXT
) WITHOUT ROWID;
-- No secondary index: each would cost every job a write. Start-up reads the live rows with one
-- scan; expiry walks the primary key, as tickets sort by creation time.
DROP INDEX IF EXISTS jobs_live;
DROP INDEX IF EXISTS jobs_finished;
-- Idempotency keys: the ticket each key names, while that job is known (until RESULT_TTL).
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, ticket TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

/** Columns later versions added to the jobs table, for files an older version created. */
const ADDED_COLUMNS = {
  parent: 'TEXT',
  task_index: 'INTEGER',
  due_at: 'INTEGER',
  failed_runs: 'INTEGER NOT NULL DEFAULT 0',
  runs: 'TEXT',
};

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

interface Raw {
  id: string;
  spec: string;
  origin: string;
  submitted_at: number;
  seq: number;
  state: ProxyState;
  node: string | null;
  attempt: number;
  lost_runs: number;
  given: string;
  started_at: number | null;
  result: string | null;
  delivered: number;
  parent: string | null;
  task_index: number | null;
  due_at: number | null;
  failed_runs: number;
  runs: string | null;
}

/**
 * The `runs` column of a job: empty when its result lists exactly these runs (as a finished
 * job's result does), so a finishing job's row does not carry its runs twice; read back from
 * the result then.
 */
function runsColumn(j: JobRecord): string | null {
  const listed = j.result?.runs;
  if (listed && listed.length === j.runs.length && listed.every((x, i) => x === j.runs[i])) {
    return null;
  }
  if (j.runs.length === 0) return listed ? '[]' : null;
  return JSON.stringify(j.runs);
}

function fromRaw(r: Raw): JobRecord {
  const result = r.result === null ? null : (JSON.parse(r.result) as JobResult);
  return {
    id: r.id,
    spec: JSON.parse(r.spec) as JobSpec,
    origin: r.origin,
    submittedAt: r.submitted_at,
    seq: r.seq,
    state: r.state,
    node: r.node,
    attempt: r.attempt,
    lostRuns: r.lost_runs,
    placed: false,
    given: r.given === '' ? [] : r.given.split(','),
    startedAt: r.started_at,
    result,
    delivered: r.delivered === 1,
    parent: r.parent,
    index: r.task_index,
    dueAt: r.due_at,
    failedRuns: r.failed_runs,
    runs: r.runs === null ? [...(result?.runs ?? [])] : (JSON.parse(r.runs) as RunView[]),
  };
}

/** The most tickets one delivered-flag statement names. */
const DELIVERED_CHUNK = 64;

/** What `list` may filter on. */
export interface ListFilter {
  /** Stored states to include (none: all). */
  states?: readonly ProxyState[];
  tenant?: string;
  limit: number;
}

/** The proxy's durable job table. Writes go through the group commit; reads are direct. */
export class JobStore {
  private readonly sql;
  /** `UPDATE … delivered = 1` of exactly n tickets, by n (made when first needed). */
  private readonly deliveredOf: Database.Statement<[string[]]>[] = [];

  constructor(
    private readonly db: Db,
    private readonly committer: Committer,
  ) {
    ensureColumns(db, 'jobs', ADDED_COLUMNS);
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
      expireKeys: db.prepare(
        'DELETE FROM keys WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = keys.ticket)',
      ),
      list: db.prepare<[{ states: string | null; tenant: string | null; limit: number }], Raw>(
        `SELECT * FROM jobs
         WHERE (@states IS NULL OR state IN (SELECT value FROM json_each(@states)))
           AND (@tenant IS NULL OR coalesce(json_extract(spec, '$.tenant'), 'default') = @tenant)
         ORDER BY id DESC LIMIT @limit`,
      ),
      assign: db.prepare(
        `UPDATE jobs SET state = 'assigned', node = ?, attempt = ?, given = ?
         WHERE id = ?`,
      ),
      requeue: db.prepare(
        "UPDATE jobs SET state = 'queued', node = NULL, lost_runs = ? WHERE id = ?",
      ),
      finish: db.prepare(
        `UPDATE jobs SET state = ?, result = ?, finished_at = ?, node = ?, delivered = ?, runs = ?
         WHERE id = ?`,
      ),
      makeTask: db.prepare(
        'UPDATE jobs SET parent = ?, task_index = ?, delivered = 0 WHERE id = ?',
      ),
      get: db.prepare<[string], Raw>('SELECT * FROM jobs WHERE id = ?'),
      live: db.prepare<[], Raw>('SELECT * FROM jobs WHERE delivered = 0 ORDER BY seq'),
      maxSeq: db.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM jobs'),
      expire: db.prepare(
        `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
           WHERE id < ? AND finished_at < ? AND delivered = 1 LIMIT ?)`,
      ),
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
  insert(j: JobRecord & JobTexts & { stored?: boolean }, after?: (err?: Error) => void): void {
    const spec = specJson(j);
    this.committer.write(() => {
      this.sql.insert.run(
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
      );
      if (j.spec.key !== undefined) this.sql.insertKey.run(j.spec.key, j.id);
      j.stored = true;
    }, after);
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

  /** The newest jobs, filtered; `tenant` compares the spec's tenant. */
  list(f: ListFilter): JobRecord[] {
    const states = f.states ? JSON.stringify(f.states) : null;
    return this.sql.list.all({ states, tenant: f.tenant ?? null, limit: f.limit }).map(fromRaw);
  }

  assign(j: JobRecord, after?: (err?: Error) => void): void {
    const { node, attempt, id } = j;
    const given = j.given.join(',');
    this.committer.write(() => this.sql.assign.run(node, attempt, given, id), after);
  }

  requeue(j: JobRecord): void {
    const { lostRuns, id } = j;
    this.committer.write(() => this.sql.requeue.run(lostRuns, id));
  }

  finish(j: JobRecord & JobTexts, after?: (err?: Error) => void): void {
    const r = j.result as JobResult;
    const json = resultJson(j);
    const { state, node, id } = j;
    const delivered = j.delivered ? 1 : 0;
    const runs = runsColumn(j);
    this.committer.write(
      () => this.sql.finish.run(state, json, r.finishedAt, node, delivered, runs, id),
      after,
    );
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
   * about as much as the row it finds, and an origin acks its results in batches.
   */
  private deliveredStatement(n: number): Database.Statement<[string[]]> {
    return (this.deliveredOf[n] ??= this.db.prepare<[string[]]>(
      `UPDATE jobs SET delivered = 1 WHERE id IN (${'?,'.repeat(n - 1)}?)`,
    ));
  }

  get(id: string): JobRecord | undefined {
    const raw = this.sql.get.get(id);
    return raw && fromRaw(raw);
  }

  /** Jobs not finished, or finished but not yet delivered to their origin. */
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
    const n = this.sql.expire.run(ticketFloor(before), before, limit).changes;
    if (n > 0) this.sql.expireKeys.run();
    return n;
  }

  counters(): Record<string, number> {
    return Object.fromEntries(this.sql.counters.all().map((r) => [r.name, r.value]));
  }

  saveCounters(values: Readonly<Record<string, number | undefined>>): void {
    this.committer.write(() => {
      for (const [k, v] of Object.entries(values))
        if (v !== undefined) this.sql.setCounter.run(k, v);
    });
  }
}
