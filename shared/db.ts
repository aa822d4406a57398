import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { PetrelError } from './errors.js';
import { reasonOf } from './startup.js';

export type Db = Database.Database;
export type Durability = 'fsync' | 'relaxed';

/**
 * Opens (or creates) the process's SQLite file in WAL mode. `fsync` makes every commit reach
 * the disk before it returns; `relaxed` survives a process crash but not a power cut.
 * A file that cannot be read as a database stops the process with a message naming it:
 * starting silently empty would break every promise the file holds.
 */
export function openDatabase(
  dataDir: string,
  fileName: string,
  durability: Durability,
  schema: string,
): Db {
  const file = resolve(join(dataDir, fileName));
  usableDataDir(dataDir, file);
  const existed = existsSync(file);
  let db: Db | undefined;
  try {
    db = new Database(file, { fileMustExist: existed });
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durability === 'fsync' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw new Error(String(check));
    db.exec(schema);
    return db;
  } catch (cause) {
    try {
      db?.close();
    } catch {
      // the file is already unusable; the error below says why
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new PetrelError(
      'ERR_DB_UNREADABLE',
      `database file ${file} is unreadable or corrupt (${reason}). ` +
        'Restore it from a backup, or move it aside to start this process with empty state ' +
        '(its tickets and results would then be lost).',
      { cause },
    );
  }
}

/** Makes sure DATA_DIR exists and this user may write it and its file; throws naming what to fix. */
function usableDataDir(dataDir: string, file: string): void {
  const dir = resolve(dataDir);
  const fail = (what: string, cause: unknown) =>
    new PetrelError(
      'ERR_DATA_DIR',
      `${what} (${reasonOf(cause)}): set DATA_DIR to a directory this user can write, ` +
        'or fix its permissions',
      { cause },
    );
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw fail(`cannot create the data directory ${dir}`, cause);
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw fail(`cannot write in the data directory ${dir}`, cause);
  }
  if (!existsSync(file)) return;
  try {
    accessSync(file, constants.R_OK | constants.W_OK);
  } catch (cause) {
    throw fail(`cannot read and write the database file ${file}`, cause);
  }
}

type After = (err?: Error) => void;

/** The longest a deferred write waits for a commit to ride along with. */
const DEFER_MS = 50;

/**
 * Group commit: writes queued during one tick run in a single transaction, so a batch pays for
 * one fsync, not one per job. Each write's `after` runs once its transaction committed (or
 * failed, with the error): that is where promises are sent, never before.
 */
export class Committer {
  private ops: Array<() => void> = [];
  private afters: After[] = [];
  private scheduled = false;
  private readonly tx: (ops: Array<() => void>) => void;
  /**
   * Called at the start of each flush, before the transaction: work that adds writes of its
   * own (the proxy's dispatcher) runs here so its writes share this tick's fsync.
   */
  beforeFlush: () => void = () => {};
  /** Called after each flush, once all `after` callbacks ran (a place to flush outbound frames). */
  onFlushed: () => void = () => {};
  /** Commits so far (a number for metrics). */
  commits = 0;

  constructor(db: Db) {
    this.tx = db.transaction((ops: Array<() => void>) => {
      for (const op of ops) op();
    });
  }

  /** Queues `op` for this tick's transaction; `after` runs once it is committed. */
  write(op: () => void, after?: After): void {
    this.ops.push(op);
    if (after) this.afters.push(after);
    this.schedule();
  }

  /**
   * Queues a write that promises nothing to anyone (an acknowledgement noted, a row no longer
   * needed): it rides along with the next commit instead of paying for an fsync of its own,
   * and is committed within `DEFER_MS` at the latest. Losing it in a crash only means a frame
   * is sent again, which every handler accepts.
   */
  defer(op: () => void): void {
    this.ops.push(op);
    this.deferTimer ??= setTimeout(() => {
      this.deferTimer = undefined;
      this.schedule();
    }, DEFER_MS);
  }
  private deferTimer: NodeJS.Timeout | undefined;

  /** Runs `after` once everything queued so far is committed (at once if nothing is). */
  afterCommit(after: After): void {
    if (this.ops.length === 0 && !this.scheduled) {
      after();
      return;
    }
    this.afters.push(after);
    this.schedule();
  }

  /** Makes sure a flush runs this tick even with nothing queued yet (for `beforeFlush`). */
  kick(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Commits everything queued now. Safe to call at any time (close calls it). */
  flush(): void {
    this.scheduled = false;
    clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
    this.beforeFlush();
    this.scheduled = false;
    const ops = this.ops;
    const afters = this.afters;
    if (ops.length === 0 && afters.length === 0) return;
    this.ops = [];
    this.afters = [];
    let err: Error | undefined;
    if (ops.length > 0) {
      try {
        this.tx(ops);
        this.commits++;
      } catch (e) {
        err = e instanceof Error ? e : new Error(String(e));
      }
    }
    for (const after of afters) after(err);
    if (err) {
      // Memory now holds what the file does not: the process must stop (`onFailure`) and be
      // rebuilt from the file by a restart, rather than go on breaking promises.
      this.onFailure(err);
      return;
    }
    this.onFlushed();
  }

  /** Called when a commit failed (disk full, I/O error). The owner stops the process. */
  onFailure: (err: Error) => void = () => {};
}
