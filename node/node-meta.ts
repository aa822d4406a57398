import { randomBytes } from 'node:crypto';
import type { Db } from '../shared/db.js';
import { PetrelError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

/**
 * NODE_ID if set, else the id generated on first start and kept in the database. A NODE_ID
 * other than the stored one is refused while the file holds unfinished work of the stored id:
 * the proxy knows those tickets and jobs by that id, and would never deliver their results to
 * the new one.
 */
export function nodeIdentity(db: Db, configured: string | undefined, log: Logger): string {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'node_id'").get() as
    { value: string } | undefined;
  if (configured) {
    if (row && row.value !== configured) {
      const open = unfinished(db);
      if (open.tickets + open.jobs > 0) {
        throw new PetrelError(
          'ERR_DATA_DIR',
          `DATA_DIR holds node ${row.value}, with ${open.tickets} unfinished tickets and ` +
            `${open.jobs} jobs given it (to run or to report), which the proxy knows by that id: start it ` +
            `with NODE_ID=${row.value} (or unset), or give NODE_ID=${configured} a DATA_DIR of its own`,
        );
      }
      log.warn({ was: row.value, now: configured }, 'NODE_ID differs from the stored id');
    }
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('node_id', ?)").run(configured);
    return configured;
  }
  if (row) return row.value;
  const id = `node-${randomBytes(4).toString('hex')}`;
  db.prepare("INSERT INTO meta (key, value) VALUES ('node_id', ?)").run(id);
  return id;
}

/** What the file holds that is not finished: tickets it issued, jobs it was given. */
function unfinished(db: Db): { tickets: number; jobs: number } {
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return {
    tickets: count("SELECT count(*) AS n FROM tickets WHERE state IN ('accepted', 'forwarded')"),
    jobs: count('SELECT count(*) AS n FROM work'),
  };
}

/**
 * What this node last saw of its proxy, kept across restarts: the newest proxy-group epoch (0:
 * none; a deposed leader's is older) and the incarnation of the proxy's file (undefined: none
 * seen yet, or a node upgraded from a release before incarnations).
 */
export function proxySeen(db: Db): { epoch: number; incarnation: number | undefined } {
  const value = (key: string) =>
    (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  const epoch = value('proxy_epoch');
  const incarnation = value('proxy_incarnation');
  return {
    epoch: epoch === undefined ? 0 : Number(epoch),
    incarnation: incarnation === undefined ? undefined : Number(incarnation),
  };
}

/**
 * Keeps a newer epoch or another incarnation seen (see `proxySeen`). Rare (once per leader
 * change or restored proxy file); the node writes it through its group commit, in the same
 * transaction as its tickets' return to waiting for that proxy's acknowledgement
 * (`Forwarding.rejoined`), so that a crash never keeps the one without the other.
 */
export function storeProxySeen(db: Db, seen: { epoch?: number; incarnation?: number }): void {
  const put = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  if (seen.epoch !== undefined) put.run('proxy_epoch', String(seen.epoch));
  if (seen.incarnation !== undefined) put.run('proxy_incarnation', String(seen.incarnation));
}
