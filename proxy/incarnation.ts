import { randomInt } from 'node:crypto';
import type { Db } from '../shared/db.js';
import { INCARNATION_MAX } from '../shared/protocol.js';

/**
 * The incarnation of a proxy's file: a random number in proxy.db (the counters table, under
 * 'incarnation', which the outcome counters never read), made when the file has none (a new
 * DATA_DIR) and replaced in every backup copy. Its WELCOME names it, so a node can tell a file
 * restored from a copy, or a new one, from the file that acknowledged what the node sent.
 */
const KEY = 'incarnation';

/** A new incarnation, 1 to 2^48 - 1. */
export function newIncarnation(): number {
  return randomInt(1, INCARNATION_MAX);
}

/** The file's incarnation, made and stored first if it has none. */
export function proxyIncarnation(db: Db): number {
  const row = db.prepare('SELECT value FROM counters WHERE name = ?').get(KEY) as
    { value: number } | undefined;
  if (row) return row.value;
  const made = newIncarnation();
  db.prepare('INSERT INTO counters (name, value) VALUES (?, ?)').run(KEY, made);
  return made;
}

/** Gives a copy (a backup being written) an incarnation of its own. */
export function stampIncarnation(db: Db): void {
  db.prepare('INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)').run(
    KEY,
    newIncarnation(),
  );
}
