import { Heap, type HeapItem } from '../shared/heap.js';
import { DEFAULT_TENANT } from '../shared/job.js';
import { OrderedQueue } from './ordered-queue.js';

/**
 * Weighted fair share between tenants. A tenant's share is the work it has out on nodes divided
 * by its weight; the next free seat goes to the queued tenant with the smallest share (ties to
 * the one served longest ago), so a tenant that floods the queue cannot starve one that arrives
 * later, and two backlogged tenants run in the ratio of their weights. Within a tenant, jobs go
 * by priority, then arrival. Every operation is O(log n).
 */

/** What the queue needs of a job. */
export interface Fair extends HeapItem {
  readonly spec: { readonly priority: number };
  readonly seq: number;
}

/** One tenant across every queue it has jobs in. */
export interface Tenant {
  readonly name: string;
  readonly weight: number;
  /** Jobs of this tenant given to nodes and not finished. */
  active: number;
  /** Jobs of this tenant waiting in the queues. */
  queued: number;
  /** When it was last served (a counter), to break ties in turn. */
  served: number;
  /** Its places in the queues it waits in, whose order depends on its share. */
  readonly queues: Set<{ reorder(): void }>;
}

/** One tenant's jobs in one queue. */
export class TenantQueue<J extends Fair> implements HeapItem {
  heapIndex = -1;
  readonly jobs = new OrderedQueue<J>((a, b) =>
    a.spec.priority !== b.spec.priority ? a.spec.priority > b.spec.priority : a.seq < b.seq,
  );
  constructor(
    readonly tenant: Tenant,
    private readonly owner: FairQueue<J>,
  ) {}
  /** Its tenant's share changed: its place among the other tenants too. */
  reorder(): void {
    this.owner.reorder(this);
  }
}

const share = (t: Tenant) => t.active / t.weight;

/** Whether tenant queue `a` is served before `b`. */
function before<J extends Fair>(a: TenantQueue<J>, b: TenantQueue<J>): boolean {
  const sa = share(a.tenant);
  const sb = share(b.tenant);
  if (sa !== sb) return sa < sb;
  if (a.tenant.served !== b.tenant.served) return a.tenant.served < b.tenant.served;
  return (a.jobs.peek()?.seq ?? Infinity) < (b.jobs.peek()?.seq ?? Infinity);
}

/** Every tenant the proxy has seen, with its weight (TENANT_WEIGHTS, default 1). */
export class Tenants {
  private readonly byName = new Map<string, Tenant>();
  private clock = 0;

  constructor(private readonly weights: ReadonlyMap<string, number> = new Map()) {}

  get(name: string = DEFAULT_TENANT): Tenant {
    let t = this.byName.get(name);
    if (!t) {
      t = {
        name,
        weight: this.weights.get(name) ?? 1,
        active: 0,
        queued: 0,
        served: 0,
        queues: new Set(),
      };
      this.byName.set(name, t);
    }
    return t;
  }

  /** A job of `t` went to a node (+1) or came back from one (-1). */
  charge(t: Tenant, delta: 1 | -1): void {
    t.active = Math.max(0, t.active + delta);
    if (delta > 0) t.served = ++this.clock;
    for (const q of t.queues) q.reorder();
  }

  all(): IterableIterator<Tenant> {
    return this.byName.values();
  }
}

/** Jobs of many tenants, served by weighted fair share. */
export class FairQueue<J extends Fair> {
  private readonly order = new Heap<TenantQueue<J>>(before);
  private readonly mine = new Map<Tenant, TenantQueue<J>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(job: J, tenant: Tenant): void {
    let q = this.mine.get(tenant);
    if (!q) {
      q = new TenantQueue<J>(tenant, this);
      this.mine.set(tenant, q);
    }
    if (q.jobs.size === 0) tenant.queues.add(q);
    q.jobs.push(job);
    if (this.order.has(q)) this.order.update(q);
    else this.order.push(q);
    this.count++;
    tenant.queued++;
  }

  /** The tenant served next (for comparing queues), without taking anything. */
  peekTenant(): Tenant | undefined {
    return this.order.peek()?.tenant;
  }

  peek(): J | undefined {
    return this.order.peek()?.jobs.peek();
  }

  /** Takes the next job by fair share. */
  pop(): J | undefined {
    const q = this.order.peek();
    const job = q?.jobs.pop();
    if (!q || !job) return undefined;
    this.count--;
    q.tenant.queued--;
    this.settle(q);
    return job;
  }

  /** Takes `job` out (cancelled, or given back to a node that still holds it). */
  remove(job: J, tenant: Tenant): boolean {
    const q = this.mine.get(tenant);
    if (!q || !q.jobs.remove(job)) return false;
    this.count--;
    tenant.queued--;
    this.settle(q);
    return true;
  }

  /** Restores order after a tenant's share changed. */
  reorder(q: TenantQueue<J>): void {
    this.order.update(q);
  }

  /**
   * Takes an emptied tenant queue out of the order (it is kept for the tenant's next job: a
   * queue that empties with every dispatch would otherwise be made again for each job), or
   * restores its place after its head changed.
   */
  private settle(q: TenantQueue<J>): void {
    if (q.jobs.size > 0) {
      this.order.update(q);
      return;
    }
    this.order.remove(q);
    q.tenant.queues.delete(q);
  }
}

/** Whether the next job of queue `a` should be served before that of `b` (across queues). */
export function servedBefore<J extends Fair>(a: FairQueue<J>, b: FairQueue<J>): boolean {
  const ta = a.peekTenant();
  const tb = b.peekTenant();
  if (!ta || !tb) return Boolean(ta);
  if (ta !== tb) {
    const sa = share(ta);
    const sb = share(tb);
    if (sa !== sb) return sa < sb;
    if (ta.served !== tb.served) return ta.served < tb.served;
  }
  const ja = a.peek() as J;
  const jb = b.peek() as J;
  if (ja.spec.priority !== jb.spec.priority) return ja.spec.priority > jb.spec.priority;
  return ja.seq < jb.seq;
}
