import { Heap, type HeapItem } from '../shared/heap.js';
import type { Candidate, Policy } from './policies.js';

/** What the dispatcher needs of a queued job. */
export interface Queued extends HeapItem {
  readonly spec: { readonly priority: number };
  readonly seq: number;
}

/** What the dispatcher needs of a node. */
export interface Seat extends Candidate {
  readonly slots: number;
  /** Jobs the node may hold beyond its slots now (adaptive prefetch); PREFETCH when absent. */
  readonly hold?: number;
  /** Set by the dispatcher: whether the policy may pick this node now. */
  available: boolean;
}

/**
 * The global queue and the choice of nodes: jobs wait by priority, then arrival; a node may
 * be given work while `outstanding < slots + hold`, hold being PREFETCH or what adaptive
 * prefetch measured the node needs (no limit in the seed's periodic mode),
 * and the policy picks among those that may. Plain logic: no sockets, timers or SQL.
 */
export class Dispatcher<J extends Queued, N extends Seat> {
  private readonly queue = new Heap<J>((a, b) =>
    a.spec.priority !== b.spec.priority ? a.spec.priority > b.spec.priority : a.seq < b.seq,
  );

  constructor(
    private readonly policy: Policy,
    private readonly opts: { prefetch: number; periodic: boolean },
  ) {}

  get size(): number {
    return this.queue.size;
  }

  enqueue(job: J): void {
    this.queue.push(job);
  }

  /** Takes a job out of the queue (it was cancelled or finished elsewhere). */
  remove(job: J): boolean {
    return this.queue.remove(job);
  }

  private capacity(n: N): number {
    return this.opts.periodic ? Infinity : n.slots + Math.max(this.opts.prefetch, n.hold ?? 0);
  }

  /** Says whether `n` may be given work now, after its load or its connection changed. */
  refresh(n: N, accepting: boolean): void {
    const room = accepting && n.outstanding < this.capacity(n);
    if (room && !n.available) this.policy.add(n);
    else if (!room && n.available) this.policy.remove(n);
    else if (room) this.policy.update(n);
    n.available = room;
  }

  /**
   * Gives queued jobs to nodes with room, at most `budget`, through `place` (which must
   * refresh the node it loads).
   */
  run(budget: number, place: (job: J, node: N) => void): void {
    while (this.queue.size > 0 && budget > 0) {
      let picks: Candidate[];
      if (this.policy.pickBatch) {
        const n = Math.min(this.queue.size, budget, 1024);
        picks = this.policy.pickBatch(n, (c) => c.outstanding < this.capacity(c as N));
      } else {
        const c = this.policy.pick();
        picks = c ? [c] : [];
      }
      if (picks.length === 0) return;
      for (const c of picks) {
        const job = this.queue.pop();
        if (!job) return;
        place(job, c as N);
        budget--;
      }
    }
  }
}
