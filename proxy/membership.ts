import type { FrameBatcher } from '../shared/batcher.js';
import type { FrameIn, FrameOf } from '../shared/protocol.js';
import type { Job } from './job-table.js';
import type { Candidate } from './policies.js';
import { PrefetchEstimator } from './prefetch.js';
import { isCustomJob } from './worker-types.js';
import {
  DEFAULT_DETECTOR,
  HeartbeatHistory,
  judge,
  SuspicionLedger,
  type DetectorOptions,
} from './failure-detector.js';

/** What the proxy needs of a node's connection. */
export interface NodeConn {
  /** The node's address, as the proxy sees it. */
  readonly peer?: string;
  readonly out: FrameBatcher;
  send(frame: FrameIn): void;
  /** Closes; a peer that does not answer within `graceMs` (at least 1 s) is cut off. */
  close(code: number, reason: string, graceMs?: number): void;
}

export interface NodeEntry extends Candidate {
  slots: number;
  conn: NodeConn | undefined;
  /** Jobs given to this node and not finished. */
  jobs: Set<Job>;
  queued: number;
  running: number;
  free: number;
  lastSeen: number;
  done: number;
  available: boolean;
  /** The node is stopping: it finishes what it runs and takes nothing new. */
  draining: boolean;
  /** Round trip and run time as measured here, for adaptive prefetch. */
  pace: PrefetchEstimator;
  /** Jobs it may hold beyond its slots now. */
  hold: number;
  /** Custom type → summed concurrency of the node's attached workers of that type. */
  workers: Map<string, number>;
  /** Custom type → jobs of that type given to the node and not finished. */
  typeLoad: Map<string, number>;
  /** Jobs of custom types among `jobs`: they use workers' capacity, not slots. */
  typedJobs: number;
  /** Its heartbeats on the current connection, for failure detection. */
  beats: HeartbeatHistory;
}

/**
 * Counts `job` as given to `n`. `outstanding`, what the balancing policies weigh against the
 * node's slots, leaves out custom-type jobs: those are weighed against its workers' capacity.
 */
export function countJob(n: NodeEntry, job: Job): void {
  if (n.jobs.has(job)) return;
  n.jobs.add(job);
  if (isCustomJob(job.spec)) {
    const type = job.spec.type as string;
    n.typedJobs++;
    n.typeLoad.set(type, (n.typeLoad.get(type) ?? 0) + 1);
  }
  n.outstanding = n.jobs.size - n.typedJobs;
}

/** Stops counting `job` as given to `n`. */
export function uncountJob(n: NodeEntry, job: Job): void {
  if (!n.jobs.delete(job)) return;
  if (isCustomJob(job.spec)) {
    const type = job.spec.type as string;
    n.typedJobs--;
    const left = (n.typeLoad.get(type) ?? 1) - 1;
    if (left > 0) n.typeLoad.set(type, left);
    else n.typeLoad.delete(type);
  }
  n.outstanding = n.jobs.size - n.typedJobs;
}

/** A node away this long, holding nothing, is forgotten (it would join again as new). */
export const FORGET_NODE_MS = 10 * 60 * 1000;

/** How often the proxy looks for dead nodes. */
export const CHECK_EVERY_MS = 50;
/** Checks further apart than this mean the proxy itself stalled (see `findDead`). */
const STALLED_MS = 4 * CHECK_EVERY_MS;

/** The nodes failure detection gave up on. */
export interface Verdict {
  /** Connected but silent for longer than the timeout: their connections must be closed. */
  silent: NodeEntry[];
  /** Held jobs when the proxy restarted, and have not come back within the timeout. */
  absent: NodeEntry[];
}

/**
 * The nodes the proxy knows: who is joined, on which connection, what they said last, and
 * failure detection by silence. Plain bookkeeping: the conductor decides what a node's coming
 * and going means for its jobs.
 */
export class Membership {
  readonly nodes = new Map<string, NodeEntry>();
  /** Verdicts on connected nodes, and which of them the nodes proved wrong. */
  readonly suspicions = new SuspicionLedger();
  /** phi above which a silent node is declared dead; 0: only the timeout decides. */
  phiThreshold = DEFAULT_DETECTOR.threshold;
  private lastCheck = Date.now();
  private connectedSize = 0;

  get(id: string): NodeEntry | undefined {
    return this.nodes.get(id);
  }

  /** The node's entry, made on first mention (a join, or a job recovered as held by it). */
  entry(id: string): NodeEntry {
    let n = this.nodes.get(id);
    if (!n) {
      n = {
        id,
        slots: 1,
        conn: undefined,
        jobs: new Set(),
        outstanding: 0,
        queued: 0,
        running: 0,
        free: 0,
        lastSeen: 0,
        done: 0,
        available: false,
        draining: false,
        pace: new PrefetchEstimator(),
        hold: 0,
        workers: new Map(),
        typeLoad: new Map(),
        typedJobs: 0,
        beats: new HeartbeatHistory(DEFAULT_DETECTOR.window),
        heapIndex: -1,
        poolIndex: -1,
        lastPick: 0,
      };
      this.nodes.set(id, n);
    }
    return n;
  }

  connected(): NodeEntry[] {
    return [...this.nodes.values()].filter((n) => n.conn);
  }

  /** How many nodes are connected (read on every HELLO: counting the map is O(nodes)). */
  get connectedCount(): number {
    return this.connectedSize;
  }

  /**
   * Nodes known to exist that have not joined (yet): away, as if they had just left, until they
   * join or are forgotten.
   */
  expect(ids: readonly string[], now = Date.now()): void {
    for (const id of ids) {
      const n = this.entry(id);
      if (!n.conn) n.lastSeen = now;
    }
  }

  /** After a restart, every recovered node's grace period for its return starts now. */
  restartGrace(now = Date.now()): void {
    for (const n of this.nodes.values()) {
      n.outstanding = n.jobs.size - n.typedJobs;
      n.lastSeen = now;
    }
  }

  /** A node joined (or rejoined) on `conn`; an older connection of it is closed. */
  attach(id: string, slots: number, conn: NodeConn, now = Date.now()): NodeEntry {
    const n = this.entry(id);
    if (n.conn && n.conn !== conn) n.conn.close(4000, 'replaced by a newer connection');
    if (!n.conn) this.connectedSize++;
    n.conn = conn;
    n.slots = slots;
    n.lastSeen = now;
    n.draining = false;
    n.beats.reset();
    return n;
  }

  /** `conn` closed: the node's entry when `conn` was still its connection. */
  detach(id: string, conn: NodeConn): NodeEntry | undefined {
    const n = this.nodes.get(id);
    if (!n || n.conn !== conn) return undefined;
    n.conn = undefined;
    this.connectedSize--;
    return n;
  }

  /** A frame arrived from `n`. */
  heard(n: NodeEntry, now = Date.now()): void {
    n.lastSeen = now;
  }

  /** A heartbeat (the node's periodic ping) arrived from `n`. */
  heartbeat(n: NodeEntry, now = Date.now()): void {
    n.lastSeen = now;
    n.beats.beat(now);
  }

  /**
   * Notes a node's INFO; true when it started or stopped draining (a node stops draining
   * when the disk that was full has space again).
   */
  noteInfo(n: NodeEntry, f: FrameOf<'INFO'>): boolean {
    n.queued = f.queued;
    n.running = f.running;
    n.free = f.free;
    const draining = f.draining === true;
    if (draining === n.draining) return false;
    n.draining = draining;
    return true;
  }

  /**
   * Failure detection: connected nodes whose silence their heartbeat history makes unlikely
   * (phi accrual), or that were silent longer than `timeoutMs` (the upper bound). Nodes away
   * for long and holding nothing are forgotten here.
   */
  findDead(timeoutMs: number, now = Date.now()): Verdict {
    const verdict: Verdict = { silent: [], absent: [] };
    // When this process itself stalled (a long commit, a burst of frames), the nodes' frames
    // may be waiting unread in its sockets: silence is only counted while it was listening,
    // and no early verdict is given until the sockets were read again.
    const gap = now - this.lastCheck;
    this.lastCheck = now;
    if (gap > timeoutMs / 2) {
      for (const n of this.nodes.values()) n.lastSeen = Math.max(n.lastSeen, now - timeoutMs / 2);
    }
    const detector = { ...DEFAULT_DETECTOR, threshold: this.phiThreshold, maxSilenceMs: timeoutMs };
    const timeoutOnly = gap > STALLED_MS || this.phiThreshold === 0;
    for (const n of this.nodes.values()) {
      const quiet = now - n.lastSeen;
      if (!n.conn && n.jobs.size === 0 && quiet > FORGET_NODE_MS) {
        this.nodes.delete(n.id); // gone for long with nothing of ours: it rejoins as new
      } else if (!n.conn && n.jobs.size > 0 && quiet > timeoutMs) {
        verdict.absent.push(n);
      } else if (n.conn && this.judged(n, quiet, detector, timeoutOnly)) {
        this.suspicions.suspected(n.id, n.lastSeen + timeoutMs);
        verdict.silent.push(n);
      }
    }
    return verdict;
  }

  /** Dead by the upper bound always; by its history only while this process kept up. */
  private judged(n: NodeEntry, quiet: number, o: DetectorOptions, timeoutOnly: boolean): boolean {
    if (quiet > o.maxSilenceMs) return true;
    return !timeoutOnly && judge(n.beats, quiet, o) !== 'alive';
  }

  /** How long an answer from a node just declared dead would still prove the verdict wrong. */
  graceLeft(n: NodeEntry, now = Date.now()): number {
    return this.suspicions.graceLeft(n.id, now);
  }
}
