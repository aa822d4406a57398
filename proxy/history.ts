/** One moment of the cluster, as the dashboard's chart draws it. */
export interface HistorySample {
  /** Epoch ms. */
  t: number;
  /** Jobs in the global queue. */
  queued: number;
  /** Each joined node's queued + running jobs, as it last said. */
  nodes: Record<string, number>;
}

/** The parts of `/api/cluster` a sample is made of. */
export interface ClusterNumbers {
  time: number;
  queue: { queued: number };
  nodes: ReadonlyArray<{ id: string; connected: boolean; queued: number; running: number }>;
}

/** A sample of the cluster as the dashboard sees it. */
export function sampleOf(c: ClusterNumbers): HistorySample {
  const nodes: Record<string, number> = {};
  for (const n of c.nodes) if (n.connected) nodes[n.id] = n.queued + n.running;
  return { t: c.time, queued: c.queue.queued, nodes };
}

/**
 * The recent past of the cluster, bounded: the newest `capacity` samples, oldest first. The
 * dashboard loads it when it opens, so its chart does not start empty.
 */
export class History {
  private readonly ring: Array<HistorySample | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity >= 1');
    this.ring = new Array<HistorySample | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds the newest sample; the oldest one goes when the ring is full. */
  push(s: HistorySample): void {
    this.ring[this.next] = s;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** The samples taken at or after `from` (epoch ms), oldest first. */
  since(from = -Infinity): HistorySample[] {
    const out: HistorySample[] = [];
    const first = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const s = this.ring[(first + i) % this.capacity];
      if (s && s.t >= from) out.push(s);
    }
    return out;
  }
}
