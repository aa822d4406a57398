import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Db } from './db.js';

type After = (err?: Error) => void;

/** The event loop's busy share since the last sync up to which `onLoopWhenIdle` syncs there. */
export const LOOP_IDLE_SHARE = 0.25;
/**
 * A sync that took longer (a stalled disk) sends the next ones to the pool until one is quick
 * again: a loop blocked for long silences the node's heartbeats and every client.
 */
export const LOOP_SYNC_MAX_MS = 10;

/** Whether a sync runs on the loop, given its busy share since the last and that sync's length. */
export function syncOnLoopNow(busyShare: number, lastSyncMs: number): boolean {
  return busyShare <= LOOP_IDLE_SHARE && lastSyncMs <= LOOP_SYNC_MAX_MS;
}

/**
 * Syncs one database's WAL file on libuv's thread pool, one fdatasync at a time. A callback
 * given after a commit runs once a sync that started after that commit has finished; commits
 * made while a sync runs share the next one. fdatasync acts on the file, whichever descriptor
 * names it, so this descriptor of our own covers SQLite's writes.
 *
 * With `onLoopWhenIdle`, a sync starting while the event loop was busy at most
 * `LOOP_IDLE_SHARE` of the time since the last one runs on the loop itself, at once: a quiet
 * process then spares the hand-off to a pool thread and back (two wake-ups), and what it sends
 * after the commit leaves after the sync. A busy one keeps the pool, where the disk's time
 * overlaps the loop's work, and so does one whose last sync was slow (`syncOnLoopNow`).
 */
export class WalSync {
  private fd: number | undefined;
  /** Callbacks of commits no running sync covers yet, in commit order. */
  private waiting: After[] = [];
  /** How many of `waiting` asked for a sync (the others are lazy: they ride along). */
  private eager = 0;
  /** Callbacks the running sync covers. */
  private inFlight: After[] = [];
  /** Starts a sync for lazy callbacks once they have waited long enough. */
  private lazyTimer: NodeJS.Timeout | undefined;
  /** Lazy callbacks waited long enough while a sync ran: the next starts when it ends. */
  private lazyDue = false;
  private running = false;
  private closing = false;
  /** A commit was made since the last sync started, and nothing waits for it. */
  private unsynced = false;
  /** Syncs started so far (a number for metrics and tests). */
  syncs = 0;

  /** The loop's utilization when the last sync started. */
  private loopAt: EventLoopUtilization | undefined;
  /** How long the last sync took, from its start to its end on the loop (ms). */
  private lastSyncMs = 0;

  private constructor(
    private readonly path: string,
    private readonly onLoopWhenIdle: boolean,
  ) {}

  /** A WalSync for `db` when its commits are meant to reach the disk (FULL, WAL, a file). */
  static for(db: Db, onLoopWhenIdle = false): WalSync | undefined {
    if (db.memory) return undefined;
    if (db.pragma('synchronous', { simple: true }) !== 2) return undefined;
    if (db.pragma('journal_mode', { simple: true }) !== 'wal') return undefined;
    return new WalSync(`${db.name}-wal`, onLoopWhenIdle);
  }

  /** Runs `cb` once a sync started after this call has finished (a commit just happened). */
  afterCommitted(cb: After): void {
    this.waiting.push(cb);
    this.eager++;
    if (!this.running) this.start();
  }

  /**
   * As `afterCommitted`, for a promise no one waits on (an acknowledgement to another
   * process, which only stops it sending again): `cb` rides with the next sync that starts for
   * any other reason, and a sync starts for it alone once it has waited `maxWaitMs`. Under load
   * such promises share the syncs that others need; when quiet, many share one.
   */
  afterCommittedLazily(cb: After, maxWaitMs: number): void {
    this.waiting.push(cb);
    this.lazyTimer ??= setTimeout(() => {
      this.lazyTimer = undefined;
      if (this.waiting.length === 0) return;
      if (this.running) this.lazyDue = true;
      else this.start();
    }, maxWaitMs);
  }

  /**
   * A commit no promise waits for: it starts no sync of its own, and the next sync covers it
   * (an fdatasync covers every write made to the file before it starts).
   */
  committedQuietly(): void {
    this.unsynced = true;
  }

  /** Whether no sync runs and no commit with a promise waits for one. */
  get idle(): boolean {
    return !this.running && this.waiting.length === 0;
  }

  /** Runs `cb` once every commit made so far is on disk: at once when nothing waits. */
  whenSynced(cb: After): void {
    if (this.waiting.length > 0 || this.unsynced) this.afterCommitted(cb);
    else if (this.running) this.inFlight.push(cb);
    else cb();
  }

  private start(): void {
    let fd: number;
    try {
      fd = this.fd ??= openSync(this.path, 'r');
    } catch (e) {
      return this.finish(this.take(), e instanceof Error ? e : new Error(String(e)));
    }
    if (this.onLoopWhenIdle && this.loopWasIdle()) return this.syncOnLoop(fd);
    this.running = true;
    this.unsynced = false;
    this.syncs++;
    this.inFlight = this.take();
    const startedAt = performance.now();
    fdatasync(fd, (err) => {
      this.lastSyncMs = performance.now() - startedAt;
      this.running = false;
      const done = this.inFlight;
      this.inFlight = [];
      if (this.closing) return this.close();
      // the next sync starts before these promises go out: it covers commits made meanwhile
      if (this.eager > 0 || (this.lazyDue && this.waiting.length > 0)) this.start();
      this.finish(done, err ?? undefined);
    });
  }

  /** Whether the loop was quiet enough since the last sync, and that sync quick enough. */
  private loopWasIdle(): boolean {
    const now = performance.eventLoopUtilization();
    const last = this.loopAt;
    this.loopAt = now;
    if (last === undefined) return false;
    const busy = performance.eventLoopUtilization(now, last).utilization;
    return syncOnLoopNow(busy, this.lastSyncMs);
  }

  private syncOnLoop(fd: number): void {
    this.unsynced = false;
    this.syncs++;
    const done = this.take();
    let err: Error | undefined;
    const startedAt = performance.now();
    try {
      fdatasyncSync(fd);
    } catch (e) {
      err = e instanceof Error ? e : new Error(String(e));
    }
    this.lastSyncMs = performance.now() - startedAt;
    this.finish(done, err);
  }

  /** Every callback a sync starting now covers, the lazy ones included, in commit order. */
  private take(): After[] {
    const cbs = this.waiting;
    this.waiting = [];
    this.eager = 0;
    this.lazyDue = false;
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    return cbs;
  }

  private finish(cbs: After[], err?: Error): void {
    for (const cb of cbs) cb(err);
  }

  /** Syncs now, blocking, and runs every pending callback (the process is closing). */
  drainSync(): void {
    const cbs = [...this.inFlight, ...this.take()];
    this.inFlight = [];
    if (cbs.length === 0 && !this.unsynced) return;
    this.unsynced = false;
    this.syncs++;
    let err: Error | undefined;
    try {
      fdatasyncSync((this.fd ??= openSync(this.path, 'r')));
    } catch (e) {
      err = e instanceof Error ? e : new Error(String(e));
    }
    this.finish(cbs, err);
  }

  /** Lets go of the descriptor, once no sync runs on it. */
  close(): void {
    this.closing = true;
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    if (this.running || this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A WAL is given its working size only while the disk has this many times that size free. */
const PRESIZE_FREE_FACTOR = 8;

/**
 * Gives the WAL at `path` its working size (`bytes`) at once, as zeros, so that commits write
 * over the file instead of growing it: an fdatasync that grows a file must also commit the
 * file system's record of its size, a second write to the disk per commit. SQLite reads a WAL
 * only up to its last valid frame, and starts it again from the beginning after a checkpoint,
 * so the zeros are never read as frames and the size is kept (it is below the
 * `journal_size_limit` the WAL is cut back to). Only zeros beyond the file's end are written,
 * before any commit of this process. Skipped when the disk is short of space (a WAL that
 * cannot grow would then refuse commits earlier); any failure leaves the file as it was.
 */
export function presizeWal(path: string, bytes: number): void {
  let fd: number | undefined;
  let size = 0;
  try {
    fd = openSync(path, 'r+');
    size = fstatSync(fd).size;
    if (size >= bytes) return;
    const { bavail, bsize } = statfsSync(dirname(path));
    if (bavail * bsize < PRESIZE_FREE_FACTOR * (bytes - size)) return;
    const zeros = Buffer.alloc(Math.min(1 << 20, bytes - size));
    for (let at = size; at < bytes; at += zeros.length) {
      writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
    }
    fdatasyncSync(fd);
  } catch {
    try {
      if (fd !== undefined) ftruncateSync(fd, size);
    } catch {
      // the zeros stay: SQLite never reads them as frames
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
