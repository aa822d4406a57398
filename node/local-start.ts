import { isBuiltinType, retryOf, type JobSpec } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';

/**
 * Starting a job where it was submitted (LOCAL_START). A job whose origin has a free slot and
 * nothing waiting for one starts there at once, and the proxy records the placement instead of
 * choosing it (Sparrow's distributed schedulers): the job's critical path then touches one
 * process instead of three, and the proxy's view of balance stays whole because the node tells
 * it what runs where (the forward says "started here", a rejoin's HELLO lists the run).
 *
 * Only a plain job qualifies: anything the proxy must decide stays with the proxy. A job of
 * many tasks is spread by it; a delayed or scheduled one waits on its clock; a key or `after`
 * is claimed there; labels, resources and custom types are matched there against the whole
 * cluster; and a failed run's retries are placed there, with their backoff, on any node.
 */
export function mayStartHere(spec: JobSpec): boolean {
  return (
    spec.tasks === undefined &&
    spec.cron === undefined &&
    spec.delayMs === undefined &&
    spec.runAt === undefined &&
    spec.key === undefined &&
    spec.after === undefined &&
    spec.constraints === undefined &&
    spec.resources === undefined &&
    spec.type !== undefined &&
    isBuiltinType(spec.type) &&
    retryOf(spec).attempts <= 1
  );
}

/**
 * Whether this node has room now: a slot free and no job waiting for one. A node holding
 * prefetched jobs has none: the proxy has work for it, and a local start would jump that queue
 * (its priorities and its fair share between tenants).
 */
export function roomHere(executor: { free: number; queued: number }): boolean {
  return executor.free > 0 && executor.queued === 0;
}

/**
 * Results decided here the proxy has yet to record, at most, before the tickets of new runs
 * started here wait (with the link up): a client that only submits never waits for a result,
 * so without this a node issuing tickets faster than the proxy records them grew without
 * bound. The replies it holds back make the client port stop reading that client's lines.
 */
export const UNRECORDED_LIMIT = 1024;

/** A result of a run started here, on its way to the proxy. */
export interface Reporting {
  result: JobResult;
  /** The result's JSON, as stored and sent. */
  resultJson: string;
  spec: JobSpec;
  specJson: string;
  submittedAt: number;
  /** Shows the result to this node's clients (wakes its waiters). */
  reveal: () => void;
  /** When it was last sent to the proxy (0: not yet). */
  sentAt: number;
  /** On disk here, and so shown to clients. */
  committed: boolean;
  /** Recorded by the proxy. */
  acked: boolean;
}

/**
 * The results of runs started here until the proxy has recorded them. Such a result goes to
 * the proxy the moment the run ends, again until it is recorded, and is shown to clients once
 * it is on disk here. No node can then give another: the proxy gives every node the result its
 * origin decided (a copy it ran meanwhile, having taken this node for dead and closed its link,
 * is a duplicate), and with the link up it runs no copy of a plain job. Waiting for the proxy's
 * acknowledgement as well gives no more than that, and costs a round trip and the proxy's sync.
 * What keeps nodes from outrunning the proxy is `UNRECORDED_LIMIT`, on new tickets.
 */
export class HereResults {
  private readonly pending = new Map<string, Reporting>();
  /** Results not yet recorded by the proxy. */
  private unrecordedCount = 0;
  /** Ticket replies waiting for the proxy to catch up (`whenRoom`). */
  private roomWaiters: Array<() => void> = [];

  /** A run started here ended. */
  finished(id: string, r: Omit<Reporting, 'sentAt' | 'committed' | 'acked'>): void {
    // built field by field: a spread followed by more fields costs microseconds per job in V8
    const { result, resultJson, spec, specJson, submittedAt, reveal } = r;
    const had = this.pending.get(id);
    if (!had || had.acked) this.unrecordedCount++; // counted once until the proxy records it
    this.pending.set(id, {
      result,
      resultJson,
      spec,
      specJson,
      submittedAt,
      reveal,
      sentAt: 0,
      committed: false,
      acked: false,
    });
  }

  /** The result is on disk here: clients see it. */
  committed(id: string): void {
    const p = this.pending.get(id);
    if (!p || p.committed) return;
    p.committed = true;
    p.reveal();
    if (p.acked) this.pending.delete(id);
  }

  /** The proxy recorded the result of `id`; false for a ticket not ended here. */
  acked(id: string): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    if (!p.acked) {
      p.acked = true;
      this.unrecordedCount--;
    }
    if (p.committed) this.pending.delete(id);
    if (this.unrecordedCount < UNRECORDED_LIMIT) this.releaseRoom();
    return true;
  }

  /** Runs `cb` (a ticket's reply) now, or once the proxy recorded enough to be under the limit. */
  whenRoom(cb: () => void, linkUp: boolean): void {
    if (!linkUp || this.unrecordedCount < UNRECORDED_LIMIT) cb();
    else this.roomWaiters.push(cb);
  }

  /** The link went down: tickets held back go without waiting for the proxy. */
  linkDown(): void {
    this.releaseRoom();
  }

  private releaseRoom(): void {
    if (this.roomWaiters.length === 0) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const cb of waiters) cb();
  }

  get(id: string): Reporting | undefined {
    return this.pending.get(id);
  }

  /** The result of `id`, ended here, while clients may not see it yet. */
  hidden(id: string): Reporting | undefined {
    const p = this.pending.get(id);
    return p && !p.committed ? p : undefined;
  }

  /** Runs ended here whose result the proxy has not recorded yet. */
  *unrecorded(): IterableIterator<[string, Reporting]> {
    for (const e of this.pending) if (!e[1].acked) yield e;
  }

  /** Whether the proxy has yet to record the result of `id`, ended here. */
  unrecordedHas(id: string): boolean {
    const p = this.pending.get(id);
    return p !== undefined && !p.acked;
  }
}
