import { Heap, type HeapItem } from '../shared/heap.js';
import { isBuiltinType } from '../shared/job.js';
import type { WorkerType } from '../shared/protocol.js';

/**
 * Custom job types on the proxy: which types the cluster knows (every type a worker ever
 * registered, kept durably by the caller), which nodes serve which type with what capacity,
 * and the queue of custom-type jobs with their placement. A job of a custom type goes only to
 * a joined node whose workers serve its type, the least loaded among them (its jobs of that
 * type over its workers' capacity), while that load stays under capacity + PREFETCH. Plain
 * logic: no sockets, timers or SQL.
 */

/** What placement needs of a queued job. */
export interface TypedJob extends HeapItem {
  readonly spec: {
    readonly type?: string;
    readonly priority: number;
    readonly constraints?: { readonly labels: readonly string[] };
  };
  readonly seq: number;
}

/** Which node labels a node has (NODE_LABELS), by node id. */
export type LabelsOf = (nodeId: string) => ReadonlySet<string>;
const NO_LABELS: ReadonlySet<string> = new Set();

/** The labels a job asks for, sorted and without repeats. */
function labelsOf(job: TypedJob): string[] {
  return [...new Set(job.spec.constraints?.labels ?? [])].sort();
}

/** Jobs of one type asking for the same labels wait together, so one class never blocks another. */
function classOf(job: TypedJob): string {
  return `${job.spec.type as string}|${labelsOf(job).join(',')}`;
}

/** What placement needs of a node. */
export interface TypedSeat {
  readonly id: string;
  /** Set while the node is joined. */
  readonly conn: unknown;
  /** The node is stopping. */
  readonly draining: boolean;
  /** Type → summed concurrency of the node's workers of that type. */
  readonly workers: ReadonlyMap<string, number>;
  /** Type → jobs of that type given to the node and not finished. */
  readonly typeLoad: ReadonlyMap<string, number>;
}

const accepting = (n: TypedSeat) => Boolean(n.conn) && !n.draining;

/** Whether a job of this spec runs on a worker (any type but the built-in ones). */
export function isCustomJob(spec: { type?: string }): boolean {
  return spec.type !== undefined && !isBuiltinType(spec.type);
}

/**
 * A node's INFO/HELLO list of worker types as a map. A type listed with capacity 0 has no
 * worker there now: it is left out, as if not listed, so no job of it is placed there.
 */
export function workerMap(list: readonly WorkerType[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const w of list) if (w.capacity > 0) map.set(w.type, w.capacity);
  return map;
}

/**
 * The types the cluster knows. A type is noted when a node first reports it (`add` says which
 * are new, to be stored) and listed to nodes only once stored (`confirm`).
 */
export class KnownTypes {
  private readonly noted: Set<string>;
  private readonly durable: Set<string>;

  constructor(stored: Iterable<string>) {
    this.durable = new Set(stored);
    this.noted = new Set(this.durable);
  }

  /** The stored types, sorted: what nodes are told. */
  list(): string[] {
    return [...this.durable].sort();
  }

  /** Notes the types of a node's workers; returns those never noted before. */
  add(types: Iterable<string>): string[] {
    const fresh: string[] = [];
    for (const t of types) {
      if (this.noted.has(t)) continue;
      this.noted.add(t);
      fresh.push(t);
    }
    return fresh;
  }

  /** The types are stored: they are listed from now on. */
  confirm(types: readonly string[]): void {
    for (const t of types) this.durable.add(t);
  }

  /** Storing them failed: they may be noted again. */
  forget(types: readonly string[]): void {
    for (const t of types) this.noted.delete(t);
  }
}

/**
 * The queue of custom-type jobs, one heap per class (type and labels asked for), each in
 * priority then arrival order.
 */
export class TypedQueue<J extends TypedJob, N extends TypedSeat> {
  private readonly heaps = new Map<string, Heap<J>>();
  private count = 0;
  /** Placements so far, to rotate among equally loaded nodes. */
  private picks = 0;
  private readonly lastPick = new Map<string, number>();

  get size(): number {
    return this.count;
  }

  enqueue(job: J): void {
    const key = classOf(job);
    let heap = this.heaps.get(key);
    if (!heap) {
      heap = new Heap<J>((a, b) =>
        a.spec.priority !== b.spec.priority ? a.spec.priority > b.spec.priority : a.seq < b.seq,
      );
      this.heaps.set(key, heap);
    }
    heap.push(job);
    this.count++;
  }

  remove(job: J): boolean {
    if (this.count === 0) return false; // every finishing job asks: most clusters have none here
    const key = classOf(job);
    const heap = this.heaps.get(key);
    if (!heap?.remove(job)) return false;
    this.count--;
    if (heap.size === 0) this.heaps.delete(key);
    return true;
  }

  /**
   * Places queued jobs on nodes serving their type, at most `budget`, through `place` (which
   * must count the job in the node's `typeLoad`). Returns how many it placed.
   */
  run(
    nodes: Iterable<N>,
    prefetch: number,
    budget: number,
    place: (job: J, n: N) => void,
    nodeLabels: LabelsOf = () => NO_LABELS,
  ): number {
    let placed = 0;
    if (this.count === 0) return placed; // no scan of every node per dispatch for nothing
    const all = [...nodes].filter((n) => accepting(n) && n.workers.size > 0);
    for (const [key, heap] of [...this.heaps]) {
      const head = heap.peek() as J;
      const type = head.spec.type as string;
      const wanted = labelsOf(head);
      const servers = all.filter(
        (n) => n.workers.has(type) && wanted.every((l) => nodeLabels(n.id).has(l)),
      );
      while (heap.size > 0 && placed < budget) {
        const n = this.leastLoaded(servers, type, prefetch);
        if (!n) break;
        const job = heap.pop() as J;
        this.count--;
        this.lastPick.set(n.id, ++this.picks);
        place(job, n);
        placed++;
      }
      if (heap.size === 0) this.heaps.delete(key);
    }
    return placed;
  }

  private leastLoaded(servers: N[], type: string, prefetch: number): N | undefined {
    let best: N | undefined;
    let bestLoad = Infinity;
    for (const n of servers) {
      const cap = n.workers.get(type) ?? 0;
      const held = n.typeLoad.get(type) ?? 0;
      if (held >= cap + prefetch) continue;
      const load = held / cap;
      const older = (this.lastPick.get(n.id) ?? 0) < (this.lastPick.get(best?.id ?? '') ?? 0);
      if (load < bestLoad || (load === bestLoad && older)) {
        best = n;
        bestLoad = load;
      }
    }
    return best;
  }
}

/**
 * Why a queued job of `type` is not placed, when no joined node serves its type (or none of
 * those has the labels it asks for).
 */
export function waitingReason(
  type: string,
  nodes: Iterable<TypedSeat>,
  labels: readonly string[] = [],
  nodeLabels: LabelsOf = () => NO_LABELS,
): string | undefined {
  const servers = [...nodes].filter((n) => accepting(n) && n.workers.has(type));
  if (servers.length === 0) return `no worker for type ${type}`;
  if (servers.some((n) => labels.every((l) => nodeLabels(n.id).has(l)))) return undefined;
  return `no node with a worker for type ${type} has labels ${[...labels].sort().join(',')}`;
}
