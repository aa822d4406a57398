import { accessSync, constants, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { dataDirError, makeDataDir } from './data-dir.js';
import { PetrelError } from './errors.js';
import { convertOldFormat, makeReclaimable } from './reclaim.js';
import { newerFileMessage, schemaAction, type SchemaAction } from './schema-version.js';
import { reasonOf } from './startup.js';
import { presizeWal, WalSync } from './wal-sync.js';

export type Db = Database.Database;

/**
 * The WAL is cut back to this many bytes once checkpointed: without a limit SQLite keeps it
 * at the largest size one transaction ever needed, for the life of the file.
 */
export const WAL_SIZE_LIMIT = 16 * 1024 * 1024;
export type Durability = 'fsync' | 'relaxed';

/**
 * Opens (or creates) the process's SQLite file in WAL mode. `fsync` makes every commit reach
 * the disk before it returns; `relaxed` survives a process crash but not a power cut.
 * A file that cannot be read as a database stops the process with a message naming it:
 * starting silently empty would break every promise the file holds. `pageSize` applies to a
 * file created now. `tempStore: 'memory'` keeps the connection's temporary data (statement
 * journals, sorts) in memory instead of temporary files; it is set here, at the open, since
 * SQLite refuses to change it inside a transaction once temporary storage is in use.
 * A file is made with incremental auto-vacuum, so `Reclaim` can give freed pages back; one an
 * earlier release made without is converted here if small enough (`convertOldFormat`).
 * `schemaVersion` (node.db and proxy.db have one): the file's `user_version` is read before
 * anything writes to it; a file a newer release wrote is refused untouched (`ERR_DB_NEWER`),
 * an older one (0: from before versions, or new) gets this version once `schema` is applied.
 */
export function openDatabase(
  dataDir: string,
  fileName: string,
  durability: Durability,
  schema: string,
  opts: { pageSize?: number; tempStore?: 'memory'; schemaVersion?: number } = {},
): Db {
  const file = resolve(join(dataDir, fileName));
  usableDataDir(dataDir, file);
  const existed = existsSync(file);
  let db: Db | undefined;
  try {
    db = new Database(file, { fileMustExist: existed });
    const ours = opts.schemaVersion;
    const action = ours === undefined ? undefined : versionAction(db, file, existed, ours);
    // a page size is chosen once, by the file's first write; a file made earlier keeps its own
    if (!existed && opts.pageSize) db.pragma(`page_size = ${opts.pageSize}`);
    // so is the ability to give deleted rows' pages back to the disk (`Reclaim`)
    if (!existed) makeReclaimable(db);
    db.pragma('journal_mode = WAL');
    // a transaction larger than this leaves a WAL of its size behind unless it is cut back
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    db.pragma(`synchronous = ${durability === 'fsync' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    if (opts.tempStore === 'memory') db.pragma('temp_store = MEMORY');
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw new Error(String(check));
    if (existed) convertOldFormat(db);
    db.exec(schema);
    // the callers' migrations (`ensureColumns`...) run after this at every start, so a crash
    // between the two leaves nothing undone
    if (action === 'create' || action === 'upgrade') db.pragma(`user_version = ${ours}`);
    if (durability === 'fsync') presizeWal(`${file}-wal`, walWorkingSize(db));
    return db;
  } catch (cause) {
    try {
      db?.close();
    } catch {
      // the file is already unusable; the error below says why
    }
    // a file of a newer release is readable, and moving it aside would lose its data
    if (cause instanceof PetrelError) throw cause;
    // SQLite's integrity report spans lines; the message is one line, as every start-up error
    const reason = (cause instanceof Error ? cause.message : String(cause))
      .replace(/\s*\n\s*/g, '; ')
      .trim();
    throw new PetrelError(
      'ERR_DB_UNREADABLE',
      `database file ${file} is unreadable or corrupt (${reason}). ` +
        'Restore it from a backup, or move it aside to start this process with empty state ' +
        '(its tickets and results would then be lost).',
      { cause },
    );
  }
}

/** Reads the file's schema version and says what to do; throws for a file not to be opened. */
function versionAction(db: Db, file: string, existed: boolean, ours: number): SchemaAction {
  const found = db.pragma('user_version', { simple: true }) as number;
  const action = schemaAction(found, ours, existed);
  if (action === 'newer') {
    throw new PetrelError('ERR_DB_NEWER', newerFileMessage(file, found, ours));
  }
  if (action === 'invalid') throw new Error(`schema version ${found} is not one Petrel writes`);
  return action;
}

/**
 * The size a WAL reaches between two automatic checkpoints (`wal_autocheckpoint` frames of a
 * page and its 24-byte header, after the 32-byte file header), at most `WAL_SIZE_LIMIT`.
 */
export function walWorkingSize(db: Db): number {
  const page = db.pragma('page_size', { simple: true }) as number;
  const frames = db.pragma('wal_autocheckpoint', { simple: true }) as number;
  return Math.min(WAL_SIZE_LIMIT, 32 + frames * (page + 24));
}

/** Makes sure DATA_DIR exists and this user may write it and its file; throws naming what to fix. */
function usableDataDir(dataDir: string, file: string): void {
  makeDataDir(dataDir);
  if (!existsSync(file)) return;
  try {
    accessSync(file, constants.R_OK | constants.W_OK);
  } catch (cause) {
    throw dataDirError(`cannot read and write the database file ${file}`, reasonOf(cause), cause);
  }
}

type After = (err?: Error) => void;

/** One queued write: its statements, and what to do once they are committed. */
interface Write {
  op: (() => void) | undefined;
  after: After | undefined;
  /** On a full disk, dropped and told so, instead of waiting for space (see `write`). */
  refusable: boolean;
  /** `after` is a promise no one waits on: it asks for no sync of its own (see `write`). */
  lazy?: boolean;
}

/** The longest a deferred write waits for a commit to ride along with. */
const DEFER_MS = 50;
/** The longest a lazy write's `after` waits for a sync to ride along with. */
const LAZY_SYNC_MS = 20;
/** How often a full disk is tried again. */
const RETRY_FULL_MS = 250;

/** Whether a failed commit only lacked space: SQLite rolled it back and the file is intact. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || (err as { errno?: unknown })?.errno === 28;
}

/**
 * Group commit: writes queued during one tick run in a single transaction, so a batch pays for
 * one fsync, not one per job. Each write's `after` runs once its transaction is on disk: that
 * is where promises are sent, never before.
 *
 * With `DURABILITY=fsync` the fsync does not block the event loop: the transaction commits
 * with `synchronous=NORMAL` (its WAL frames written, not yet synced) and the WAL is then
 * fdatasync'd on libuv's thread pool (`WalSync`), while this process goes on reading and
 * committing the next batch. Batches committed during one sync share the next: a pipelined
 * group commit. The `after` callbacks of a batch run only when a sync that started after its
 * commit has finished, in commit order, so the rule holds exactly as with `synchronous=FULL`
 * (checkpoints keep their own syncs under NORMAL). Writes made outside a Committer still run
 * under the connection's FULL and sync before they return.
 *
 * A full disk is survived: SQLite rolls the transaction back, the batch is kept (memory already
 * holds it) and tried again every `RETRY_FULL_MS` until space returns, its promises waiting;
 * `full` tells the owner to refuse new work meanwhile. Any other failed commit (an I/O error)
 * leaves memory holding what the file may not: `onFailure` then stops the process, and a
 * restart rebuilds from the file.
 */
export class Committer {
  private queue: Write[] = [];
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly tx: (writes: Write[]) => void;
  private readonly probe: () => void;
  /** Syncs the WAL off the event loop; undefined when commits sync themselves (or never). */
  private readonly walSync: WalSync | undefined;
  /** The disk was full at the last commit; writes wait for space. */
  full = false;
  /**
   * Called at the start of each flush, before the transaction: work that adds writes of its
   * own (the proxy's dispatcher) runs here so its writes share this tick's fsync.
   */
  beforeFlush: () => void = () => {};
  /** Called after each flush, once all `after` callbacks ran (a place to flush outbound frames). */
  onFlushed: () => void = () => {};
  /** Called when the disk fills (`true`) and when a commit succeeds again (`false`). */
  onDiskFull: (full: boolean, err?: Error) => void = () => {};
  /** Commits so far (a number for metrics). */
  commits = 0;
  /** WAL syncs started so far (with `DURABILITY=fsync`; a number for metrics and tests). */
  get syncs(): number {
    return this.walSync?.syncs ?? 0;
  }
  /**
   * Asked before each flush: false means this process may no longer write (a proxy that lost
   * its leadership). Everything queued is then dropped unwritten and no `after` runs, so no
   * promise is ever sent for it.
   */
  fence: () => boolean = () => true;

  /** `syncOnLoopWhenIdle`: see `WalSync`. */
  constructor(db: Db, opts: { syncOnLoopWhenIdle?: boolean } = {}) {
    const tx = db.transaction((writes: Write[]) => {
      for (const w of writes) w.op?.();
    });
    this.walSync = WalSync.for(db, opts.syncOnLoopWhenIdle);
    if (this.walSync === undefined) this.tx = tx;
    else {
      // this connection's own commits skip SQLite's fsync: `WalSync` does it (see there)
      const normal = db.prepare('PRAGMA synchronous = NORMAL');
      const full = db.prepare('PRAGMA synchronous = FULL');
      this.tx = (writes) => {
        normal.run();
        try {
          tx(writes);
        } finally {
          full.run();
        }
      };
    }
    // a write that needs a page of its own, to learn whether space returned when nothing else
    // waits to be written
    db.exec('CREATE TABLE IF NOT EXISTS disk_probe (at INTEGER NOT NULL)');
    const probe = db.prepare('INSERT INTO disk_probe (at) VALUES (?)');
    const clear = db.prepare('DELETE FROM disk_probe');
    this.probe = () => {
      probe.run(Date.now());
      clear.run();
    };
  }

  /**
   * Queues `op` for this tick's transaction; `after` runs once it is committed. A `refusable`
   * write (a new ticket) is dropped when the disk is full and its `after` gets the error, so a
   * client hears at once instead of waiting for space; every other write waits for space.
   * A `lazy` write's `after` is a promise no one waits on (an acknowledgement to another
   * process, which only stops it sending again): it is still sent only once the write is on
   * disk, but a batch of such writes alone starts no sync at once; the next sync covers it,
   * and one starts for it after `LAZY_SYNC_MS` if no other does.
   */
  write(op: () => void, after?: After, opts: { refusable?: boolean; lazy?: boolean } = {}): void {
    this.queue.push({ op, after, refusable: opts.refusable === true, lazy: opts.lazy });
    this.schedule();
  }

  /**
   * Queues a write that promises nothing to anyone (an acknowledgement noted, a row no longer
   * needed): it rides along with the next commit instead of paying for an fsync of its own,
   * and is committed within `DEFER_MS` at the latest; a batch of such writes alone starts no
   * sync, the next one covers it. Losing it in a crash only means a frame is sent again, which
   * every handler accepts.
   */
  defer(op: () => void): void {
    this.queue.push({ op, after: undefined, refusable: false });
    this.deferTimer ??= setTimeout(() => {
      this.deferTimer = undefined;
      this.schedule();
    }, DEFER_MS);
  }
  private deferTimer: NodeJS.Timeout | undefined;

  /**
   * Runs `after` once everything queued so far is committed (at once if nothing is); `lazy`:
   * a promise no one waits on, queued as a lazy `write`'s (with nothing queued, it waits for
   * the disk as any other).
   */
  afterCommit(after: After, opts: { lazy?: boolean } = {}): void {
    if (this.queue.length === 0 && !this.scheduled && !this.full) {
      if (this.walSync) this.walSync.whenSynced(after);
      else after();
      return;
    }
    this.queue.push({ op: undefined, after, refusable: false, lazy: opts.lazy });
    this.schedule();
  }

  /** Makes sure a flush runs this tick even with nothing queued yet (for `beforeFlush`). */
  kick(): void {
    this.schedule();
  }

  private schedule(): void {
    // while the disk is full only the retry timer commits: each attempt costs a rollback
    if (this.scheduled || this.full) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Commits everything queued now. Safe to call at any time (close calls it). */
  flush(): void {
    this.scheduled = false;
    clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
    if (!this.fence()) {
      this.queue = [];
      this.stop();
      return;
    }
    this.beforeFlush();
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0 && !this.full) return;
    this.queue = [];
    if (this.full) batch.push({ op: this.probe, after: undefined, refusable: false });
    if (batch.some((w) => w.op)) {
      try {
        this.tx(batch);
        this.commits++;
      } catch (e) {
        this.failed(e instanceof Error ? e : new Error(String(e)), batch);
        return;
      }
    }
    if (this.full) {
      this.full = false;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.onDiskFull(false);
    }
    if (this.walSync === undefined) this.synced(batch);
    else if (batch.some((w) => w.after && !w.lazy)) {
      this.walSync.afterCommitted((err) => this.synced(batch, err));
    } else if (batch.some((w) => w.after)) {
      this.walSync.afterCommittedLazily((err) => this.synced(batch, err), LAZY_SYNC_MS);
    } else {
      // nothing waits for this batch (deferred writes, a disk probe): the next sync covers it.
      // Frames leave now only if every earlier commit is on disk; else that sync's end sends them.
      this.walSync.committedQuietly();
      if (this.walSync.idle) this.onFlushed();
    }
  }

  /** A batch is on disk: its promises may go out (unless this process may no longer act). */
  private synced(batch: Write[], err?: Error): void {
    if (err) {
      // after a failed fsync the kernel may have dropped the pages: memory is ahead of the file
      for (const w of batch) w.after?.(err);
      this.onFailure(err);
      return;
    }
    if (this.walSync !== undefined && !this.fence()) return;
    for (const w of batch) w.after?.();
    this.onFlushed();
  }

  /**
   * Commits what is queued and waits, blocking, for the WAL to be on disk, running every
   * pending `after`: for a process that is closing.
   */
  flushSync(): void {
    this.flush();
    this.walSync?.drainSync();
  }

  private failed(err: Error, batch: Write[]): void {
    if (!isDiskFull(err)) {
      for (const w of batch) w.after?.(err);
      this.onFailure(err);
      return;
    }
    for (const fn of this.rollbackListeners) fn();
    const kept = batch.filter((w) => !w.refusable && w.op !== this.probe);
    this.queue = [...kept, ...this.queue];
    if (!this.full) {
      this.full = true;
      this.onDiskFull(true, err);
    }
    for (const w of batch) if (w.refusable) w.after?.(err);
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, RETRY_FULL_MS);
  }

  /** Stops trying a full disk again and lets go of the WAL (the owner is closing). */
  stop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.walSync?.drainSync();
    this.walSync?.close();
  }

  /**
   * Runs `fn` whenever a transaction was rolled back for want of space: owners that track in
   * memory what their statements left in the file read it again.
   */
  onRollback(fn: () => void): void {
    this.rollbackListeners.push(fn);
  }
  private readonly rollbackListeners: Array<() => void> = [];

  /** Called when a commit failed for another reason than space (an I/O error): stop the process. */
  onFailure: (err: Error) => void = () => {};
}
