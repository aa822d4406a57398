/** The node's SQLite schema: its own tickets (origin role) and the work it runs (executor role). */
export const NODE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- Tickets this node issued. state: accepted (committed here, not yet acked by the proxy),
-- forwarded (the proxy acked it), done, failed, cancelled. reported is no longer written (see
-- unreported below); older versions set it to 0 for rows that are now listed there.
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  result TEXT,
  finished_at INTEGER,
  reported INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
-- Rows an older version flagged reported = 0 (moved to unreported below; a partial index costs
-- nothing for rows outside it). Expiry walks the primary key (tickets sort by time).
CREATE INDEX IF NOT EXISTS tickets_unreported ON tickets(reported) WHERE reported = 0;
DROP INDEX IF EXISTS tickets_open;
DROP INDEX IF EXISTS tickets_finished;
-- Tickets with a terminal state decided here (a run started here or under LOCAL_FALLBACK, or
-- cancelled before forwarding) that the proxy has not yet acknowledged: sent again after a
-- restart, never expired. A row of its own, so that the acknowledgement is a small delete
-- rather than a rewrite of the ticket's row.
CREATE TABLE IF NOT EXISTS unreported (id TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT OR IGNORE INTO unreported (id) SELECT id FROM tickets WHERE reported = 0;
UPDATE tickets SET reported = 1 WHERE reported = 0;
-- Jobs given to this node to run. state: queued, running, finished (result kept until the
-- proxy acknowledges it, then the row is deleted).
CREATE TABLE IF NOT EXISTS work (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  origin TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  state TEXT NOT NULL,
  started_at INTEGER,
  result TEXT
) WITHOUT ROWID;
`;
