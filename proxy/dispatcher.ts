import type { HeapItem } from '../shared/heap.js';
import { tenantOf, type JobSpec } from '../shared/job.js';
import { FairQueue, servedBefore, Tenants, type Tenant } from './fair-share.js';
import {
  classKey,
  eligible,
  fits,
  needsOf,
  NO_NEEDS,
  OPEN_CAPS,
  waitingReason,
  type Needs,
  type NodeCaps,
  type Usage,
} from './placement.js';
import type { Candidate, Policy } from './policies.js';

/** What the dispatcher needs of a queued job. */
export interface Queued extends HeapItem {
  readonly spec: Pick<JobSpec, 'type' | 'constraints' | 'resources' | 'tenant'> & {
    readonly priority: number;
  };
  readonly seq: number;
  /** Jobs of one batch (the tasks of one job) are placed together by batch sampling. */
  readonly batch?: string;
  /** The dispatcher's note of the job's class and tenant, made when it first sees the job. */
  dispatchMeta?: DispatchMeta;
}

/** What a dispatcher notes on a job (a field, not a WeakMap: it is read several times a job). */
export interface DispatchMeta {
  readonly owner: object;
  readonly key: string;
  readonly needs: Needs;
  readonly tenant: Tenant;
}

/** What the dispatcher needs of a node. */
export interface Host {
  readonly id: string;
  readonly slots: number;
  /** Jobs given to the node and not finished (its queued + running as the proxy counts). */
  outstanding: number;
  /** Jobs the node may hold beyond its slots now (adaptive prefetch); PREFETCH when absent. */
  readonly hold?: number;
}

export interface DispatcherOptions {
  prefetch: number;
  periodic: boolean;
  /** TENANT_WEIGHTS. */
  weights?: ReadonlyMap<string, number>;
}

/** A node as one placement class sees it: the class's policy orders these. */
interface Seat<N> extends Candidate {
  readonly node: N;
  available: boolean;
}

interface HostState<J extends Queued, N> {
  readonly node: N;
  caps: NodeCaps;
  used: Usage;
  accepting: boolean;
  readonly seats: Map<Klass<J>, Seat<N>>;
}

/** A placement class: queued jobs with the same needs, and the nodes that could run them. */
interface Klass<J extends Queued> {
  readonly key: string;
  readonly needs: Needs;
  readonly queue: FairQueue<J>;
  readonly policy: Policy;
  /** Seats whose node has room for one more job of this class now. */
  avail: number;
}

/**
 * The global queue and the choice of nodes. Jobs wait in placement classes (equal labels,
 * resources and type); inside a class, tenants share by weighted fair share and each tenant's
 * jobs go by priority, then arrival. A node has room for a class while `outstanding < slots +
 * hold`, hold being PREFETCH or what adaptive prefetch measured the node needs (batch sampling
 * binds late: only a free slot; the seed's periodic mode: no limit)
 * and what its jobs need, plus one more, fits its CPUs and memory. Each class keeps its own
 * policy over the nodes eligible for it, so a class that fits nowhere never blocks the others:
 * dispatch only looks at classes with room. Cost per placement: O(log n) in the policy plus
 * O(c) over the classes with queued jobs; a node's load change costs O(log n) per class it
 * serves; a class that appears costs one pass over the nodes. Plain logic: no sockets, timers
 * or SQL.
 */
export class Dispatcher<J extends Queued, N extends Host> {
  readonly tenants: Tenants;
  private readonly classes = new Map<string, Klass<J>>();
  private readonly hosts = new Map<N, HostState<J, N>>();
  private readonly lateBinding: boolean;
  private queued = 0;
  /** The note of each tenant's jobs that need nothing of their node (most jobs). */
  private readonly plain = new Map<Tenant, DispatchMeta>();

  constructor(
    private readonly newPolicy: () => Policy,
    private readonly opts: DispatcherOptions,
  ) {
    this.tenants = new Tenants(opts.weights);
    this.lateBinding = this.newPolicy().name === 'batch-sampling';
    this.klass(needsOf({})); // the unconstrained class is always there
  }

  get size(): number {
    return this.queued;
  }

  enqueue(job: J): void {
    const m = this.metaOf(job);
    this.klass(m.needs).queue.push(job, m.tenant);
    this.queued++;
  }

  /** Takes a job out of the queue (it was cancelled or finished elsewhere). */
  remove(job: J): boolean {
    const m = job.dispatchMeta?.owner === this ? job.dispatchMeta : undefined;
    const k = m && this.classes.get(m.key);
    if (!m || !k || !k.queue.remove(job, m.tenant)) return false;
    this.queued--;
    this.retire(k);
    return true;
  }

  /** Why a queued job cannot be placed on any joined node, or undefined. */
  waiting(job: J): string | undefined {
    const caps: NodeCaps[] = [];
    for (const h of this.hosts.values()) if (h.accepting) caps.push(h.caps);
    return waitingReason(this.metaOf(job).needs, caps);
  }

  /** Sets what a node offers (HELLO, or its workers changed); unknown nodes start open. */
  setCaps(n: N, caps: NodeCaps): void {
    const h = this.host(n);
    h.caps = caps;
    for (const k of this.classes.values()) this.seat(k, h);
  }

  /** Says whether `n` may be given work now, after its load or its connection changed. */
  refresh(n: N, accepting: boolean): void {
    const h = this.host(n);
    h.accepting = accepting;
    for (const [k, s] of h.seats) this.update(k, h, s);
  }

  /** A node left for good: it is forgotten. */
  forget(n: N): void {
    const h = this.hosts.get(n);
    if (!h) return;
    for (const [k, s] of h.seats) this.unseat(k, s);
    this.hosts.delete(n);
  }

  /** `job` was given to `n`: its needs and its tenant's share are charged (then refresh `n`). */
  hold(job: J, n: N): void {
    const m = this.metaOf(job);
    const h = this.host(n);
    h.used.cpu += m.needs.cpu;
    h.used.memMb += m.needs.memMb;
    this.tenants.charge(m.tenant, 1);
  }

  /** `job` left `n` (finished, lost or taken back): the charge is undone (then refresh `n`). */
  release(job: J, n: N): void {
    const m = this.metaOf(job);
    const h = this.host(n);
    h.used.cpu = Math.max(0, h.used.cpu - m.needs.cpu);
    h.used.memMb = Math.max(0, h.used.memMb - m.needs.memMb);
    this.tenants.charge(m.tenant, -1);
  }

  /**
   * A node other than `except` with a free slot where `job` fits now, for a speculative copy.
   * O(n): copies are rare.
   */
  idleFor(job: J, except: N | undefined): N | undefined {
    const m = this.metaOf(job);
    let best: HostState<J, N> | undefined;
    for (const h of this.hosts.values()) {
      const n = h.node;
      if (n === except || !h.accepting || n.outstanding >= n.slots) continue;
      if (!eligible(h.caps, m.needs) || !fits(h.caps, h.used, m.needs)) continue;
      if (!best || n.outstanding / n.slots < best.node.outstanding / best.node.slots) best = h;
    }
    return best?.node;
  }

  /**
   * Gives queued jobs to nodes with room, at most `budget`, through `place` (which must `hold`
   * the job and refresh the node it loads).
   */
  run(budget: number, place: (job: J, node: N) => void): void {
    while (budget > 0) {
      const k = this.next();
      if (!k) return;
      const jobs = this.take(k, Math.min(budget, 1024));
      const picks = k.policy.pickBatch
        ? k.policy.pickBatch(jobs.length, (c) => c.outstanding < this.capacity((c as Seat<N>).node))
        : [k.policy.pick()];
      let placed = 0;
      for (const job of jobs) {
        const s = picks[placed] as Seat<N> | undefined;
        const h = s && this.hosts.get(s.node);
        if (!s || !h || !this.hasRoom(h, k)) {
          k.queue.push(job, this.metaOf(job).tenant); // not this round
          this.queued++;
          if (s && h) this.update(k, h, s);
          continue;
        }
        placed++;
        place(job, s.node);
        budget--;
      }
      this.retire(k);
      if (placed === 0) return; // every seat with room is pickable: only a bug gets here
    }
  }

  /** The class whose next job is served first, among those with a node that has room. */
  private next(): Klass<J> | undefined {
    let best: Klass<J> | undefined;
    for (const k of this.classes.values()) {
      if (k.queue.size === 0 || k.avail === 0) continue;
      if (!best || servedBefore(k.queue, best.queue)) best = k;
    }
    return best;
  }

  /** The next job of `k`, and with batch sampling the rest of its batch (up to `max`). */
  private take(k: Klass<J>, max: number): J[] {
    const first = k.queue.pop() as J;
    this.queued--;
    const jobs = [first];
    if (!k.policy.pickBatch || first.batch === undefined) return jobs;
    while (jobs.length < max && k.queue.peek()?.batch === first.batch) {
      jobs.push(k.queue.pop() as J);
      this.queued--;
    }
    return jobs;
  }

  /** How many jobs `n` may hold beyond its slots: PREFETCH or its measured hold. */
  holdOf(n: Host): number {
    if (this.opts.periodic) return Infinity;
    if (this.lateBinding) return 0;
    return Math.max(this.opts.prefetch, n.hold ?? 0);
  }

  private capacity(n: Host): number {
    return n.slots + this.holdOf(n);
  }

  private hasRoom(h: HostState<J, N>, k: Klass<J>): boolean {
    const n = h.node;
    return h.accepting && n.outstanding < this.capacity(n) && fits(h.caps, h.used, k.needs);
  }

  private metaOf(job: J): DispatchMeta {
    let m = job.dispatchMeta;
    if (m?.owner !== this) {
      const needs = needsOf(job.spec);
      const tenant = this.tenants.get(tenantOf(job.spec));
      // most jobs need nothing: they share one note per tenant
      m = needs === NO_NEEDS ? this.plain.get(tenant) : undefined;
      if (!m) {
        m = { owner: this, key: classKey(needs), needs, tenant };
        if (needs === NO_NEEDS) this.plain.set(tenant, m);
      }
      job.dispatchMeta = m;
    }
    return m;
  }

  private host(n: N): HostState<J, N> {
    let h = this.hosts.get(n);
    if (!h) {
      h = {
        node: n,
        caps: OPEN_CAPS,
        used: { cpu: 0, memMb: 0 },
        accepting: false,
        seats: new Map(),
      };
      this.hosts.set(n, h);
      for (const k of this.classes.values()) this.seat(k, h);
    }
    return h;
  }

  /** The class of `needs`, made (with a seat on every eligible node) when first needed. */
  private klass(needs: Needs): Klass<J> {
    const key = classKey(needs);
    let k = this.classes.get(key);
    if (k) return k;
    k = { key, needs, queue: new FairQueue<J>(), policy: this.newPolicy(), avail: 0 };
    this.classes.set(key, k);
    for (const h of this.hosts.values()) this.seat(k, h);
    return k;
  }

  /** A class with nothing queued is dropped (the unconstrained one stays). */
  private retire(k: Klass<J>): void {
    if (k.queue.size > 0 || k.key === '' || this.classes.get(k.key) !== k) return;
    this.classes.delete(k.key);
    for (const h of this.hosts.values()) {
      const s = h.seats.get(k);
      if (s) this.unseat(k, s);
      h.seats.delete(k);
    }
  }

  /** Gives `h` a seat in `k` when eligible, takes it away when not. */
  private seat(k: Klass<J>, h: HostState<J, N>): void {
    const s = h.seats.get(k);
    if (!eligible(h.caps, k.needs)) {
      if (s) this.unseat(k, s);
      h.seats.delete(k);
      return;
    }
    if (s) return this.update(k, h, s);
    const seat: Seat<N> = {
      id: h.node.id,
      slots: h.node.slots,
      outstanding: h.node.outstanding,
      heapIndex: -1,
      poolIndex: -1,
      lastPick: 0,
      node: h.node,
      available: false,
    };
    h.seats.set(k, seat);
    this.update(k, h, seat);
  }

  private unseat(k: Klass<J>, s: Seat<N>): void {
    if (s.available) {
      k.policy.remove(s);
      k.avail--;
      s.available = false;
    }
  }

  private update(k: Klass<J>, h: HostState<J, N>, s: Seat<N>): void {
    (s as { slots: number }).slots = h.node.slots;
    s.outstanding = h.node.outstanding;
    const room = this.hasRoom(h, k);
    if (room && !s.available) {
      k.policy.add(s);
      k.avail++;
    } else if (!room && s.available) {
      k.policy.remove(s);
      k.avail--;
    } else if (room) k.policy.update(s);
    s.available = room;
  }
}
