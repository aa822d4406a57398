import { statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from './db.js';
import type { Logger } from './log.js';
import {
  AUTO_VACUUM,
  formatDecision,
  livePages,
  nextReclaimAction,
  RECLAIM_POLICY,
  worthReclaiming,
  type FilePages,
  type ReclaimPolicy,
  type ReclaimProgress,
} from './reclaim-policy.js';

/**
 * What opening an existing file found of its format, said by the first `Reclaim` of the
 * connection: the file is opened before any logger reaches it.
 */
type FormatNote =
  | { kind: 'converted'; ms: number; liveBytes: number }
  | { kind: 'too-large'; liveBytes: number }
  | { kind: 'no-space'; liveBytes: number; diskFreeBytes: number }
  | { kind: 'failed'; err: unknown };

const formatNotes = new WeakMap<Db, FormatNote>();

/** A file's page counts. */
export function pagesOf(db: Db): FilePages {
  const n = (pragma: string) => db.pragma(pragma, { simple: true }) as number;
  return { pageSize: n('page_size'), pageCount: n('page_count'), freePages: n('freelist_count') };
}

/**
 * Makes a file created now able to give pages back. SQLite fixes the mode with the file's
 * first write, which switching to WAL already is: this runs before.
 */
export function makeReclaimable(db: Db): void {
  db.pragma('auto_vacuum = INCREMENTAL');
}

/**
 * Converts a file an earlier release made (without incremental auto-vacuum) when
 * `formatDecision` says it is small enough to do while the process starts; otherwise, or if
 * the conversion fails, the file keeps working as it was, only without shrinking, and the
 * first `Reclaim` of the connection says so.
 */
export function convertOldFormat(db: Db, policy: ReclaimPolicy = RECLAIM_POLICY): void {
  if (db.memory) return;
  const started = performance.now();
  try {
    const pages = pagesOf(db);
    const { bavail, bsize } = statfsSync(dirname(db.name));
    const autoVacuum = db.pragma('auto_vacuum', { simple: true }) as number;
    const diskFreeBytes = bavail * bsize;
    const decision = formatDecision({ ...pages, autoVacuum, diskFreeBytes }, policy);
    if (decision.kind === 'keep') return;
    if (decision.kind !== 'convert') {
      formatNotes.set(db, decision);
      return;
    }
    const liveBytes = livePages(pages) * pages.pageSize;
    db.exec('PRAGMA auto_vacuum = INCREMENTAL; VACUUM');
    // the VACUUM wrote the whole file into the WAL: emptied now, the WAL is presized to its
    // working size by the caller, instead of staying at the file's size until a write cuts it
    // to journal_size_limit
    db.pragma('wal_checkpoint(TRUNCATE)');
    formatNotes.set(db, { kind: 'converted', ms: performance.now() - started, liveBytes });
  } catch (err) {
    // SQLite rolled the VACUUM back: the file is as it was, and serves as it did
    formatNotes.set(db, { kind: 'failed', err });
  }
}

/** How a reclaim is run; every field has the product's default. */
export interface ReclaimOptions {
  policy?: ReclaimPolicy;
  /** How the next step is scheduled (the next turn of the event loop). */
  later?: (fn: () => void) => void;
  /** Whether this process may write now (a proxy that lost its leadership may not). */
  mayWrite?: () => boolean;
}

/**
 * Gives a database file's free pages back to the file system after rows were deleted, one
 * bounded step per turn of the event loop (`nextReclaimAction`), so clients wait for one step
 * at most. One reclaim at a time. A file without incremental auto-vacuum is left alone.
 */
export class Reclaim {
  private running = false;
  private stopped = false;
  private readonly incremental: boolean;
  private readonly policy: ReclaimPolicy;
  private readonly later: (fn: () => void) => void;
  private readonly mayWrite: () => boolean;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    opts: ReclaimOptions = {},
  ) {
    this.policy = opts.policy ?? RECLAIM_POLICY;
    this.later = opts.later ?? ((fn) => setImmediate(fn));
    this.mayWrite = opts.mayWrite ?? (() => true);
    this.incremental =
      !db.memory && db.pragma('auto_vacuum', { simple: true }) === AUTO_VACUUM.incremental;
    this.reportFormat();
  }

  /** Whether a reclaim is under way. */
  get busy(): boolean {
    return this.running;
  }

  /**
   * Starts a reclaim if the file holds enough free space to be worth it and none runs;
   * `done` gets the bytes given back (0 when there was nothing to do, at once).
   */
  run(done: (freedBytes: number) => void = () => {}): void {
    if (this.running || this.stopped) return;
    if (!this.incremental || !this.db.open || !worthReclaiming(pagesOf(this.db), this.policy)) {
      done(0);
      return;
    }
    this.running = true;
    const progress: ReclaimProgress = { uncheckpointed: 0, stalled: false };
    let freed = 0;
    const next = (): void => {
      if (this.stopped || !this.db.open || !this.mayWrite()) {
        this.running = false;
        return;
      }
      try {
        const f = pagesOf(this.db);
        const action = nextReclaimAction(f, progress, this.policy);
        if (action.kind === 'done') {
          this.running = false;
          this.finished(freed);
          done(freed);
          return;
        }
        if (action.kind === 'checkpoint') {
          // PASSIVE: copies the WAL back and cuts the file, leaving the WAL's own (presized)
          // length alone, which TRUNCATE would undo
          this.db.pragma('wal_checkpoint(PASSIVE)');
          progress.uncheckpointed = 0;
        } else {
          const pages = this.vacuum(action.pages, f.pageCount);
          progress.uncheckpointed += pages;
          progress.stalled = pages === 0;
          freed += pages * f.pageSize;
        }
      } catch (err) {
        // a full disk or a busy file: the pages stay free inside the file until the next run
        this.running = false;
        this.log.warn({ err, file: this.db.name }, 'could not give free pages back to the disk');
        done(freed);
        return;
      }
      this.later(next);
    };
    this.later(next);
  }

  /** No further step runs (the process is closing its database). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Frees up to `pages` pages; returns how many left the database. `.run()` would step the
   * pragma once, freeing one page: `exec` runs it to the end. The step promises nothing to
   * anyone, so it commits without its own fsync even under `DURABILITY=fsync`: the next sync
   * or checkpoint covers it, and a power cut before only loses the move, never the data.
   */
  private vacuum(pages: number, pageCount: number): number {
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    const relax = level > 1;
    if (relax) this.db.pragma('synchronous = NORMAL');
    try {
      this.db.exec(`PRAGMA incremental_vacuum(${pages})`);
    } finally {
      if (relax) this.db.pragma(`synchronous = ${level}`);
    }
    return pageCount - (this.db.pragma('page_count', { simple: true }) as number);
  }

  private finished(freed: number): void {
    if (freed === 0) return;
    this.log.info(
      { file: this.db.name, freedBytes: freed, fileBytes: fileSize(this.db.name) },
      'gave free pages back to the disk',
    );
  }

  /** Says once per connection what opening found of the file's format. */
  private reportFormat(): void {
    const note = formatNotes.get(this.db);
    if (!note) return;
    formatNotes.delete(this.db);
    const file = this.db.name;
    if (note.kind === 'converted') {
      this.log.info(
        { file, liveBytes: note.liveBytes, ms: Math.round(note.ms) },
        'converted the database file to incremental auto-vacuum: it now shrinks after expiry',
      );
      return;
    }
    const f = pagesOf(this.db);
    const why =
      note.kind === 'too-large'
        ? 'too large to convert at start'
        : note.kind === 'no-space'
          ? 'too little free disk to convert'
          : 'the conversion failed';
    this.log.warn(
      {
        file,
        fileBytes: fileSize(file),
        freePages: f.freePages,
        freeBytes: f.freePages * f.pageSize,
        ...(note.kind === 'failed' ? { err: note.err } : {}),
      },
      `database file made without incremental auto-vacuum (${why}): it never shrinks. ` +
        `To convert it, stop this process and run: sqlite3 ${file} ` +
        '"PRAGMA auto_vacuum = INCREMENTAL; VACUUM" (about 1-2 s per 100 MB of data)',
    );
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
