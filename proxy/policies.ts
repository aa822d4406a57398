import { Heap } from '../shared/heap.js';

/** What a policy sees of a node: its size and how many jobs the proxy has given it. */
export interface Candidate {
  readonly id: string;
  readonly slots: number;
  /** Jobs assigned to the node and not finished (its queued + running as the proxy counts). */
  outstanding: number;
  /** Position in a policy's heap (owned by the policy). */
  heapIndex: number;
  /** Position in a policy's array (owned by the policy). */
  poolIndex: number;
  /** When the node was last picked, to break ties fairly. */
  lastPick: number;
}

/**
 * A balancing policy chooses among nodes that have room. The dispatcher tells it when a node
 * gains room (`add`), loses it (`remove`), or its load changes (`update`); `pick` must not
 * return a node it was told to remove.
 */
export interface Policy {
  readonly name: PolicyName;
  add(c: Candidate): void;
  remove(c: Candidate): void;
  update(c: Candidate): void;
  pick(): Candidate | undefined;
  /** Chooses nodes for a batch of `n` jobs at once (batch sampling uses it; others loop pick). */
  pickBatch?(n: number, hasRoom: (c: Candidate) => boolean): Candidate[];
}

export type PolicyName =
  'least-loaded' | 'power-of-two' | 'batch-sampling' | 'round-robin' | 'random';

const load = (c: Candidate) => c.outstanding / c.slots;

/** A dense array of candidates with O(1) add, remove and random choice. */
class Pool {
  readonly items: Candidate[] = [];
  add(c: Candidate): void {
    if (c.poolIndex >= 0 && this.items[c.poolIndex] === c) return;
    c.poolIndex = this.items.length;
    this.items.push(c);
  }
  remove(c: Candidate): void {
    const i = c.poolIndex;
    if (i < 0 || this.items[i] !== c) return;
    const last = this.items.pop() as Candidate;
    if (last !== c) {
      this.items[i] = last;
      last.poolIndex = i;
    }
    c.poolIndex = -1;
  }
  random(rand: () => number): Candidate | undefined {
    return this.items[Math.floor(rand() * this.items.length)];
  }
}

/** The policies that choose among an unordered pool of nodes with room. */
abstract class PoolPolicy {
  protected readonly pool = new Pool();
  add(c: Candidate): void {
    this.pool.add(c);
  }
  remove(c: Candidate): void {
    this.pool.remove(c);
  }
  update(): void {}
}

let pickClock = 0;

/** Lowest (queued + running) / slots first, ties to the node picked longest ago. O(log n). */
export class LeastLoaded implements Policy {
  readonly name = 'least-loaded';
  private readonly heap = new Heap<Candidate>((a, b) => {
    const la = load(a);
    const lb = load(b);
    return la !== lb ? la < lb : a.lastPick < b.lastPick;
  });
  add(c: Candidate): void {
    if (!this.heap.has(c)) this.heap.push(c);
  }
  remove(c: Candidate): void {
    this.heap.remove(c);
  }
  update(c: Candidate): void {
    this.heap.update(c);
  }
  pick(): Candidate | undefined {
    const c = this.heap.peek();
    if (c) c.lastPick = ++pickClock;
    return c;
  }
}

/** Two random nodes, the less loaded wins (Mitzenmacher's power of two choices). */
export class PowerOfTwo extends PoolPolicy implements Policy {
  readonly name = 'power-of-two';
  constructor(private readonly rand: () => number = Math.random) {
    super();
  }
  pick(): Candidate | undefined {
    const a = this.pool.random(this.rand);
    const b = this.pool.random(this.rand);
    if (!a || !b) return a ?? b;
    return load(b) < load(a) ? b : a;
  }
}

/**
 * Sparrow's batch sampling: for m jobs, probe d·m nodes and place the jobs on the least loaded
 * of the probed ones.
 */
export class BatchSampling extends PoolPolicy implements Policy {
  readonly name = 'batch-sampling';
  constructor(
    private readonly probeRatio = 2,
    private readonly rand: () => number = Math.random,
  ) {
    super();
  }
  pick(): Candidate | undefined {
    return this.pickBatch(1, () => true)[0];
  }
  pickBatch(n: number, hasRoom: (c: Candidate) => boolean): Candidate[] {
    const probes = new Set<Candidate>();
    const want = Math.min(this.pool.items.length, this.probeRatio * n);
    for (let tries = 0; probes.size < want && tries < want * 4; tries++) {
      const c = this.pool.random(this.rand);
      if (c) probes.add(c);
    }
    const sampled = [...probes];
    const out: Candidate[] = [];
    for (let i = 0; i < n; i++) {
      let best: Candidate | undefined;
      for (const c of sampled) if (hasRoom(c) && (!best || load(c) < load(best))) best = c;
      if (!best) break;
      best.outstanding++; // provisional, so the next job of the batch sees it
      out.push(best);
    }
    for (const c of out) c.outstanding--;
    return out;
  }
}

/** Each node in turn (a baseline). */
export class RoundRobin extends PoolPolicy implements Policy {
  readonly name = 'round-robin';
  private next = 0;
  pick(): Candidate | undefined {
    const items = this.pool.items;
    if (items.length === 0) return undefined;
    this.next = (this.next + 1) % items.length;
    return items[this.next];
  }
}

/** Any node with room, uniformly (a baseline). */
export class RandomPolicy extends PoolPolicy implements Policy {
  readonly name = 'random';
  constructor(private readonly rand: () => number = Math.random) {
    super();
  }
  pick(): Candidate | undefined {
    return this.pool.random(this.rand);
  }
}

export function createPolicy(name: PolicyName, rand: () => number = Math.random): Policy {
  switch (name) {
    case 'least-loaded':
      return new LeastLoaded();
    case 'power-of-two':
      return new PowerOfTwo(rand);
    case 'batch-sampling':
      return new BatchSampling(2, rand);
    case 'round-robin':
      return new RoundRobin();
    case 'random':
      return new RandomPolicy(rand);
  }
}
