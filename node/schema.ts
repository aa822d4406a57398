import type { Db } from '../shared/db.js';
import { ensureColumns } from '../shared/schema-columns.js';
import { ticketFloor } from '../shared/ids.js';

/** node.db's schema version: shared/schema-version.ts says when a release bumps it. */
export const NODE_SCHEMA_VERSION = 1;

/** The node's SQLite schema: its own tickets (origin role) and the work it runs (executor role). */
export const NODE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- Tickets this node issued. state: accepted (committed here, not yet acked by the proxy),
-- forwarded (the proxy acked it), done, failed, cancelled. here: the result was decided here (a
-- run here, or a cancel before the proxy heard of the job); with report_mark below it tells
-- which results the proxy may not have recorded (see node/report-mark.ts). reported is no
-- longer written; older versions set it to 0 for results the proxy had not recorded.
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  result TEXT,
  finished_at INTEGER,
  reported INTEGER NOT NULL DEFAULT 1,
  here INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Rows an older version flagged reported = 0 (moved to unreported below; a partial index costs
-- nothing for rows outside it). Expiry walks the primary key (tickets sort by time).
CREATE INDEX IF NOT EXISTS tickets_unreported ON tickets(reported) WHERE reported = 0;
DROP INDEX IF EXISTS tickets_open;
DROP INDEX IF EXISTS tickets_finished;
-- The failed and the cancelled tickets (LIST failed, GET /v1/jobs?state=failed): a partial index
-- holds only its rows, so a ticket that ends done costs them nothing, and the few failed ones
-- are found without walking every ticket kept for RESULT_TTL (half a second per million, on the
-- event loop that also sends the proxy its heartbeats). Open tickets are listed from memory.
CREATE INDEX IF NOT EXISTS tickets_failed ON tickets(id) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS tickets_cancelled ON tickets(id) WHERE state = 'cancelled';
-- One row: the mark W. Every result decided here whose ticket sorts below it has been recorded
-- by the proxy; those at or above it are sent again after a restart and never expire.
CREATE TABLE IF NOT EXISTS report_mark (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  below TEXT NOT NULL
);
-- Where older versions listed the results the proxy had not recorded, a row each. Opening such
-- a file folds them into the mark and the tickets' here (upgradeTickets), leaving it empty.
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

/**
 * Brings a ticket table an older version wrote up to date, after NODE_SCHEMA ran: adds
 * `tickets.here`, gives a new file its mark, and folds the `unreported` rows into both (W
 * drops to the oldest of them; their tickets are marked decided here). A file without a mark
 * had every other result recorded by the proxy, so W starts at the floor of tickets issued
 * from now on. Idempotent: each start runs it.
 */
export function upgradeTickets(db: Db, now = Date.now()): void {
  ensureColumns(db, 'tickets', { here: 'INTEGER NOT NULL DEFAULT 0' });
  db.transaction(() => {
    db.prepare('INSERT OR IGNORE INTO report_mark (one, below) VALUES (1, ?)').run(
      ticketFloor(now),
    );
    db.exec(`
      UPDATE tickets SET here = 1
        WHERE id IN (SELECT id FROM unreported) AND result IS NOT NULL;
      UPDATE report_mark SET below = (SELECT min(id) FROM unreported)
        WHERE below > (SELECT min(id) FROM unreported);
      DELETE FROM unreported;
    `);
  })();
}
