import type { JobResult } from '../shared/job-view.js';
import type { WireJob } from '../shared/protocol.js';
import type { NodeEntry } from './membership.js';

/**
 * Frames for nodes wait in each connection's batcher; the outbox remembers which batchers
 * hold something so the conductor flushes them at the right moment (dispatches before the
 * tick's fsync, acks and results only after the commit that allows them).
 */
export class Outbox {
  private readonly pending = new Set<NodeEntry>();

  /** Sends `job` to `n`; false when `n` is not connected. */
  job(n: NodeEntry, job: WireJob): boolean {
    if (!n.conn) return false;
    n.conn.out.job(job);
    this.pending.add(n);
    return true;
  }

  result(n: NodeEntry, r: JobResult): boolean {
    if (!n.conn) return false;
    n.conn.out.result(r);
    this.pending.add(n);
    return true;
  }

  ack(n: NodeEntry, kind: 'job' | 'result', id: string): void {
    if (!n.conn) return;
    if (kind === 'job') n.conn.out.ackJob(id);
    else n.conn.out.ackResult(id);
    this.pending.add(n);
  }

  /** Tells `n` to stop its copy of a job (it finished elsewhere or was cancelled). */
  cancel(n: NodeEntry, id: string): void {
    n.conn?.out.cancel(id);
  }

  flush(): void {
    for (const n of this.pending) n.conn?.out.flush();
    this.pending.clear();
  }
}
