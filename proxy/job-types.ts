import type { JobView } from '../shared/job-view.js';
import type { Logger } from '../shared/log.js';
import type { WorkerType } from '../shared/protocol.js';
import type { Membership, NodeEntry } from './membership.js';
import type { TypeStorage } from './type-store.js';
import {
  isCustomJob,
  KnownTypes,
  waitingReason,
  workerMap,
  type LabelsOf,
} from './worker-types.js';

/**
 * The proxy's edge of custom job types: notes what each node's workers serve, stores every
 * type the first time a worker registers it, and announces the list to every node (TYPES)
 * only once it is committed, so that no node accepts a type the cluster could forget.
 */
export class JobTypes {
  private readonly known: KnownTypes;

  constructor(
    private readonly store: TypeStorage,
    private readonly members: Membership,
    private readonly log: Logger,
  ) {
    this.known = new KnownTypes(store.all());
  }

  /** The stored types, for WELCOME. */
  list(): string[] {
    return this.known.list();
  }

  /** A node said which custom types its workers serve (HELLO, or INFO when it changed). */
  note(n: NodeEntry, workers: readonly WorkerType[]): void {
    n.workers = workerMap(workers);
    const fresh = this.known.add(n.workers.keys());
    if (fresh.length === 0) return;
    this.store.add(fresh, n.id, (err) => {
      if (err) return this.known.forget(fresh);
      this.known.confirm(fresh);
      this.log.info({ types: fresh, node: n.id }, 'new job types registered');
      const frame = { type: 'TYPES' as const, types: this.known.list() };
      for (const m of this.members.connected()) m.conn?.send(frame);
    });
  }

  /**
   * Adds to a queued custom-type job's view why it waits, when no joined node serves it (or
   * none of those has the `labels` it asks for).
   */
  explain(v: JobView, labels: readonly string[] = [], nodeLabels?: LabelsOf): JobView {
    if (v.state === 'queued' && v.type !== undefined && isCustomJob(v)) {
      const why = waitingReason(v.type, this.members.nodes.values(), labels, nodeLabels);
      if (why) v.waiting = why;
    }
    return v;
  }
}
