import type { Db } from '../shared/db.js';
import { ensureColumns } from '../shared/schema-columns.js';

/** proxy.db's schema version: shared/schema-version.ts says when a release bumps it. */
export const PROXY_SCHEMA_VERSION = 1;

export const PROXY_SCHEMA = `
-- Every job the proxy acknowledged. state: scheduled (waiting for due_at: a delay or a retry's
-- backoff), blocked (waiting for its after tickets), queued, assigned (given to node), done,
-- failed, cancelled; whether the node acked it and whether it runs yet are kept in memory (a node's
-- HELLO says both again). delivered = 1 once the origin acked the final result; until then
-- the result is pushed again after every rejoin and sweep, for RESULT_TTL from its finish.
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
-- Except two partial ones: the failed and the cancelled jobs, which the dashboard lists every few
-- seconds. A job that ends done is in neither (it costs them nothing); without them a list of
-- the few failed jobs walked every job kept for RESULT_TTL (a third of a second per million,
-- on the event loop that also reads the nodes' heartbeats).
CREATE INDEX IF NOT EXISTS jobs_failed ON jobs(id) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS jobs_cancelled ON jobs(id) WHERE state = 'cancelled';
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

/** Adds the jobs table's later columns to a file an older version created. */
export function upgradeJobs(db: Db): void {
  ensureColumns(db, 'jobs', ADDED_COLUMNS);
}
