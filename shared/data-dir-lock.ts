import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { dataDirError, makeDataDir } from './data-dir.js';
import { PetrelError } from './errors.js';

/**
 * One DATA_DIR, one live process. Two processes writing the same SQLite files would each
 * trust a file the other changes under it, and every durability promise would be void.
 *
 * Why an SQLite file held in an open transaction: the lock must free itself when its holder
 * dies, however it dies (`kill -9`, a power cut), so an operator never deletes a stale lock by
 * hand. A pid file cannot tell a dead holder from a live one (pids are reused; in containers
 * every process is pid 1). A lock the kernel holds for the process can: SQLite's are POSIX
 * record locks (fcntl), which the kernel drops when the process ends, exist only in memory
 * (nothing survives a power cut), are not inherited by the jobs a node forks, and which SQLite
 * also enforces between two connections of one process (two nodes started in one test). A
 * `BEGIN IMMEDIATE` takes SQLite's RESERVED lock: a second process cannot take it, yet can
 * still read the file, which names the holder. The file itself is never removed: deleting a
 * lock file someone holds would let the next process lock a new file beside it.
 */

/** The file in DATA_DIR whose lock marks the directory as in use. */
export const LOCK_FILE = 'petrel.lock';

/** Who holds a DATA_DIR, as it wrote itself in the lock file. */
export interface Holder {
  program: string;
  pid: number;
  host: string;
  since: string;
}

/** The one-line refusal for a DATA_DIR another process holds (`holder`, when it can be read). */
export function inUseMessage(dir: string, holder: Holder | undefined): string {
  const who = holder
    ? `${holder.program} (pid ${holder.pid} on host ${holder.host}, since ${holder.since})`
    : 'another Petrel process';
  return (
    `the data directory ${dir} is in use by ${who}: two processes must not share one ` +
    'DATA_DIR; stop that one first, or set DATA_DIR to a directory of its own'
  );
}

/** A row of the lock file as a `Holder`, if it is one. */
export function asHolder(row: unknown): Holder | undefined {
  const r = row as Partial<Record<keyof Holder, unknown>> | undefined;
  if (!r || typeof r.program !== 'string' || typeof r.pid !== 'number') return undefined;
  if (typeof r.host !== 'string' || typeof r.since !== 'string') return undefined;
  return { program: r.program, pid: r.pid, host: r.host, since: r.since };
}

const SCHEMA =
  'CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), ' +
  'program TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL)';

/** How long a commit or a read of the holder waits for a process briefly in the file. */
const BRIEF_WAIT_MS = 2000;

/**
 * Locks still held: a lock lives as long as its connection, which must not be collected
 * with an owner that dropped it without `release`.
 */
const held = new Set<DataDirLock>();

/** The lock on a DATA_DIR, held from `take` until `release` or the end of the process. */
export class DataDirLock {
  private constructor(
    readonly dir: string,
    private db: Database.Database | undefined,
  ) {}

  /**
   * Makes DATA_DIR if needed and locks it for `program` (`petrel-node`, `petrel-proxy`);
   * throws `ERR_DATA_DIR` naming the directory, and its holder when it can be read, if
   * another process holds it.
   */
  static take(dataDir: string, program: string): DataDirLock {
    const dir = makeDataDir(dataDir);
    const file = join(dir, LOCK_FILE);
    let db: Database.Database;
    try {
      db = new Database(file, { timeout: 0 });
    } catch (cause) {
      throw dataDirError(`cannot create the lock file ${file}`, messageOf(cause), cause);
    }
    try {
      // first the lock, then our name in it, published by a commit (which lets go of the
      // lock), then the lock again: one that starts meanwhile wins, and this one says so
      if (!tryLock(db)) throw refusal(db, dir);
      db.exec(SCHEMA);
      db.prepare(
        'INSERT OR REPLACE INTO holder (id, program, pid, host, since) VALUES (1, ?, ?, ?, ?)',
      ).run(program, process.pid, hostname(), new Date().toISOString());
      db.pragma(`busy_timeout = ${BRIEF_WAIT_MS}`); // a refused process reading the holder
      db.exec('COMMIT');
      db.pragma('busy_timeout = 0');
      if (!tryLock(db)) throw refusal(db, dir);
    } catch (err) {
      db.close();
      if (err instanceof PetrelError) throw err;
      throw dataDirError(`cannot use the lock file ${file}`, messageOf(err), err);
    }
    const lock = new DataDirLock(dir, db);
    held.add(lock);
    return lock;
  }

  /** Lets the directory go (the process is stopping). Safe to call twice. */
  release(): void {
    held.delete(this);
    const db = this.db;
    this.db = undefined;
    db?.close(); // rolls the open transaction back, which drops the lock
  }
}

/** Takes the lock; false if another process holds it. */
function tryLock(db: Database.Database): boolean {
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return false;
    throw err;
  }
}

/** The refusal for a directory another process holds, naming that process if it can. */
function refusal(db: Database.Database, dir: string): PetrelError {
  let holder: Holder | undefined;
  try {
    db.pragma(`busy_timeout = ${BRIEF_WAIT_MS}`); // the holder may be committing its name
    holder = asHolder(db.prepare('SELECT * FROM holder WHERE id = 1').get());
  } catch {
    // a holder that has not yet written its name (or a file made by a newer release)
  }
  return new PetrelError('ERR_DATA_DIR', inUseMessage(dir, holder));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
