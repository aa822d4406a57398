import { Heap, type HeapItem } from '../shared/heap.js';
import { CANCELLED_BY_CLIENT, type JobSpec } from '../shared/job.js';
import type { RunOutcome } from './job-runner.js';
import { clipNote, OutputClip, type ClippedOutput } from '../shared/output-clip.js';
import { jobLine, type JobReport } from './worker-protocol.js';

/** The connection a worker came on: the pool writes lines to it and nothing else. */
export interface WorkerLink {
  send(line: string): void;
}

export interface PoolEvents {
  /** A worker took the job. */
  started(id: string, at: number): void;
  /**
   * The worker answered DONE or FAIL, or the job was cancelled while a worker had it. `whole`
   * is the output as the worker sent it, before the result clipped it (for the run's log).
   */
  finished(
    id: string,
    outcome: RunOutcome,
    startedAt: number,
    finishedAt: number,
    whole?: string,
  ): void;
  /**
   * The pool let go of a job without a result: its worker left or went silent (`ran`), or no
   * worker of its type is left to take it. Whoever gave it must place it again.
   */
  lost(id: string, ran: boolean, why: string): void;
  /** The types served, or their capacity, changed. */
  typesChanged(): void;
}

interface PoolJob extends HeapItem {
  id: string;
  spec: JobSpec;
  type: string;
  attempt: number;
  seq: number;
}

interface Lease {
  job: PoolJob;
  worker: Worker;
  startedAt: number;
  /** The last time the worker said anything about this job (JOB sent, PROGRESS). */
  heardAt: number;
}

/** One attached worker connection. */
export interface Worker {
  readonly id: number;
  readonly type: string;
  readonly concurrency: number;
  readonly link: WorkerLink;
  readonly leases: Map<string, Lease>;
  /** The ordinal of its latest job: ties go to the one that waited longest. */
  lastGiven: number;
  /** Jobs it lost by silence: a worker that hangs is chosen last. */
  strikes: number;
}

/** Why a worker's report was refused. */
export interface ReportError {
  code: 'NOT_FOUND';
  message: string;
}

const FAILED_WITHOUT_TEXT = 'the worker reported a failure';
/** The largest capacity of one type a node's report may carry (the frame schema's bound). */
const MAX_REPORTED_CAPACITY = 1_000_000;

/**
 * The workers attached to this node and the custom-type jobs waiting for them. Each job goes
 * to the least busy worker of its type (jobs in flight over its concurrency, then fewest
 * strikes, then longest idle); a worker's job is leased to it until it answers, leaves, or
 * stays silent past the job's `timeoutMs`. Plain logic: the connection is a `WorkerLink`, time
 * comes in as arguments, and `expire(now)` is called by whoever owns a timer.
 */
export class WorkerPool {
  private readonly byType = new Map<string, Set<Worker>>();
  private readonly waiting = new Map<string, Heap<PoolJob>>();
  private readonly queued = new Map<string, PoolJob>();
  private readonly leases = new Map<string, Lease>();
  private nextWorker = 1;
  private seq = 0;
  /** Counts handouts: a worker's `lastGiven` is the ordinal of its latest job. */
  private given = 0;

  constructor(
    private readonly outputLimit: number,
    private readonly events: PoolEvents,
  ) {}

  /** Jobs a worker holds now. */
  get inFlight(): number {
    return this.leases.size;
  }
  /** Jobs waiting for a worker with room. */
  get waitingCount(): number {
    return this.queued.size;
  }

  has(id: string): boolean {
    return this.queued.has(id) || this.leases.has(id);
  }

  serves(type: string): boolean {
    return (this.byType.get(type)?.size ?? 0) > 0;
  }

  /**
   * The types served here, with the jobs their workers may hold at once: each has a capacity
   * of at least 1 (a type with no worker left is not listed).
   */
  types(): Array<{ type: string; capacity: number }> {
    const out: Array<{ type: string; capacity: number }> = [];
    for (const [type, ws] of this.byType) {
      let capacity = 0;
      for (const w of ws) capacity += w.concurrency;
      if (capacity > 0) out.push({ type, capacity: Math.min(capacity, MAX_REPORTED_CAPACITY) });
    }
    return out;
  }

  /** A connection became a worker of `type`. */
  attach(type: string, concurrency: number, link: WorkerLink): Worker {
    const w: Worker = {
      id: this.nextWorker++,
      type,
      concurrency,
      link,
      leases: new Map(),
      lastGiven: 0,
      strikes: 0,
    };
    let set = this.byType.get(type);
    if (!set) this.byType.set(type, (set = new Set()));
    set.add(w);
    this.events.typesChanged();
    this.pump(type, Date.now());
    return w;
  }

  /** A worker's connection ended: its jobs are lost, and when it was the last of its type, so are the waiting ones. */
  detach(w: Worker): void {
    const set = this.byType.get(w.type);
    if (!set?.delete(w)) return;
    // a type no worker serves is left out of `types()`: the proxy reads its absence as "none
    // here", and refuses a capacity of 0
    const last = set.size === 0;
    if (last) this.byType.delete(w.type);
    // the proxy hears first that this node serves less, then that these jobs need a place
    this.events.typesChanged();
    for (const lease of [...w.leases.values()]) this.loseLease(lease, 'its worker disconnected');
    if (last) {
      const heap = this.waiting.get(w.type);
      this.waiting.delete(w.type);
      for (let j = heap?.pop(); j; j = heap?.pop()) {
        this.queued.delete(j.id);
        this.events.lost(j.id, false, `no worker for type ${w.type}`);
      }
    } else {
      this.pump(w.type, Date.now());
    }
  }

  /** Takes a job of a custom type; false when no worker serves its type here. */
  submit(id: string, spec: JobSpec, attempt: number, now = Date.now()): boolean {
    const type = spec.type ?? '';
    if (!this.serves(type)) return false;
    if (this.has(id)) return true;
    const job: PoolJob = { id, spec, type, attempt, seq: this.seq++, heapIndex: -1 };
    let heap = this.waiting.get(type);
    if (!heap) {
      heap = new Heap<PoolJob>((a, b) =>
        a.spec.priority !== b.spec.priority ? a.spec.priority > b.spec.priority : a.seq < b.seq,
      );
      this.waiting.set(type, heap);
    }
    heap.push(job);
    this.queued.set(id, job);
    this.pump(type, now);
    return true;
  }

  /**
   * Stops a job: a waiting one is removed ('queued'); one a worker holds is taken back, the
   * worker told `CANCEL <ticket>`, and ends cancelled unless `drop` ('running').
   */
  cancel(id: string, drop = false): 'queued' | 'running' | 'unknown' {
    const job = this.queued.get(id);
    if (job) {
      this.queued.delete(id);
      this.waiting.get(job.type)?.remove(job);
      return 'queued';
    }
    const lease = this.leases.get(id);
    if (!lease) return 'unknown';
    this.endLease(lease);
    lease.worker.link.send(`CANCEL ${id}`);
    if (!drop) {
      const outcome: RunOutcome = {
        state: 'cancelled',
        exitCode: null,
        output: '',
        error: CANCELLED_BY_CLIENT,
      };
      this.events.finished(id, outcome, lease.startedAt, Date.now());
    }
    this.pump(lease.job.type, Date.now());
    return 'running';
  }

  /** Removes every waiting job (the node is stopping); returns their ids. */
  takeWaiting(): string[] {
    const ids = [...this.queued.keys()];
    this.queued.clear();
    this.waiting.clear();
    return ids;
  }

  /** Takes back every job a worker holds, without outcomes; returns their ids. */
  abortInFlight(): string[] {
    const ids = [...this.leases.keys()];
    for (const id of ids) this.cancel(id, true);
    return ids;
  }

  /** A worker's DONE, FAIL or PROGRESS; an error when it holds no such job. */
  report(w: Worker, line: JobReport, now = Date.now()): ReportError | null {
    const lease = w.leases.get(line.ticket);
    if (!lease) {
      return {
        code: 'NOT_FOUND',
        message: `${line.ticket} is not held by this worker (finished, cancelled, timed out, or never given)`,
      };
    }
    if (line.verb === 'PROGRESS') {
      lease.heardAt = now;
      return null;
    }
    this.endLease(lease);
    let outcome: RunOutcome;
    if (line.verb === 'DONE') {
      // the result keeps head and tail, and says so, as for a program's output
      const kept = this.clip(line.text);
      const note = clipNote(this.outputLimit, kept);
      outcome = { state: 'done', exitCode: 0, output: kept.text, error: note };
    } else {
      const error = this.clip(line.text).text || FAILED_WITHOUT_TEXT;
      outcome = { state: 'failed', exitCode: null, output: '', error };
    }
    this.events.finished(line.ticket, outcome, lease.startedAt, now, line.text);
    this.pump(w.type, now);
    return null;
  }

  /** Takes jobs back from workers silent past their job's `timeoutMs`. */
  expire(now = Date.now()): void {
    for (const lease of [...this.leases.values()]) {
      const limit = lease.job.spec.timeoutMs;
      if (limit === undefined || now - lease.heardAt <= limit) continue;
      lease.worker.strikes++;
      lease.worker.link.send(`CANCEL ${lease.job.id}`);
      this.loseLease(lease, `its worker was silent for more than timeoutMs (${limit} ms)`);
      this.pump(lease.job.type, now);
    }
  }

  /** Output as results keep it: past the limit, its head and tail around a marker. */
  private clip(text: string): ClippedOutput {
    const c = new OutputClip(this.outputLimit);
    c.push(Buffer.from(text));
    return c.result();
  }

  private endLease(lease: Lease): void {
    this.leases.delete(lease.job.id);
    lease.worker.leases.delete(lease.job.id);
  }

  private loseLease(lease: Lease, why: string): void {
    this.endLease(lease);
    this.events.lost(lease.job.id, true, why);
  }

  /** Gives waiting jobs of `type` to its workers while they have room. */
  private pump(type: string, now: number): void {
    const heap = this.waiting.get(type);
    while (heap && heap.size > 0) {
      const w = this.leastBusy(type);
      if (!w) return;
      const job = heap.pop() as PoolJob;
      this.queued.delete(job.id);
      const lease: Lease = { job, worker: w, startedAt: now, heardAt: now };
      this.leases.set(job.id, lease);
      w.leases.set(job.id, lease);
      w.lastGiven = ++this.given;
      this.events.started(job.id, now);
      w.link.send(jobLine(job.id, job.spec, job.attempt));
    }
  }

  private leastBusy(type: string): Worker | undefined {
    let best: Worker | undefined;
    let bestLoad = Infinity;
    for (const w of this.byType.get(type) ?? []) {
      if (w.leases.size >= w.concurrency) continue;
      const load = w.leases.size / w.concurrency;
      if (
        !best ||
        load < bestLoad ||
        (load === bestLoad &&
          (w.strikes < best.strikes ||
            (w.strikes === best.strikes && w.lastGiven < best.lastGiven)))
      ) {
        best = w;
        bestLoad = load;
      }
    }
    return best;
  }
}
