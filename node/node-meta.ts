import { randomBytes } from 'node:crypto';
import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/log.js';

/** NODE_ID if set, else the id generated on first start and kept in the database. */
export function nodeIdentity(db: Db, configured: string | undefined, log: Logger): string {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'node_id'").get() as
    { value: string } | undefined;
  if (configured) {
    if (row && row.value !== configured) {
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

/** The newest proxy-group epoch this node saw: a deposed leader's is older. */
export function storedEpoch(db: Db): number {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'proxy_epoch'").get() as
    { value: string } | undefined;
  return row ? Number(row.value) : 0;
}

export function storeEpoch(db: Db, epoch: number): void {
  // rare (once per leader change) and promises nothing: written on its own
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('proxy_epoch', ?)").run(
    String(epoch),
  );
}
