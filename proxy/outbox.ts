import type { NodeEntry } from './membership.js';

/** How long an acknowledgement of a result waits for other frames, until the period is known. */
export const LATE_ACK_MS = 100;
/** The longest it ever waits. */
export const MAX_LATE_ACK_MS = 1000;

/**
 * Frames for nodes wait in each connection's batcher; the outbox remembers which batchers
 * hold something so the conductor flushes them at the right moment (dispatches before the
 * tick's fsync, acks and results only after the commit that allows them).
 *
 * An acknowledged result only lets its node forget it (the node sends it again after
 * REQUEST_RESULT_PERIOD without one), so its ACK does not cost a write of its own: it rides
 * with the node's next frames, usually a later dispatch, and leaves on its own only after a
 * quarter of that period (at most `MAX_LATE_ACK_MS`), long before the node would send the
 * result again. A busy node so gets one write per dispatch, not two. A stopping node, which
 * waits for its acks, gets them at once.
 */
export class Outbox {
  private readonly pending = new Set<NodeEntry>();
  /** Nodes holding result acks only, with when the first of them was queued (oldest first). */
  private readonly late = new Map<NodeEntry, number>();
  private timer: NodeJS.Timeout | undefined;
  /** When the last flush ran: the timer only stands in for flushes that stopped coming. */
  private lastFlush = 0;
  /** How long a result's ack may wait for other frames to its node. */
  private lateAckMs = LATE_ACK_MS;

  /** The period after which nodes send unacknowledged results again (REQUEST_RESULT_PERIOD). */
  resendPeriod(ms: number): void {
    this.lateAckMs = Math.min(MAX_LATE_ACK_MS, Math.max(0, Math.floor(ms / 4)));
  }

  /** Sends a job (a `WireJob` as JSON) to `n`; false when `n` is not connected. */
  job(n: NodeEntry, json: string): boolean {
    if (!n.conn) return false;
    n.conn.out.jobText(json);
    this.pending.add(n);
    return true;
  }

  /** Sends a result (a `JobResult` as JSON) to `n`; false when `n` is not connected. */
  result(n: NodeEntry, json: string): boolean {
    if (!n.conn) return false;
    n.conn.out.resultText(json);
    this.pending.add(n);
    return true;
  }

  /**
   * Acknowledges a forwarded job (`job`), an executor's result (`result`, which may wait for
   * other frames), or a result decided at the origin (`decided`: acked in `ACK.results` at
   * once, because the origin shows it to its clients only then).
   */
  ack(n: NodeEntry, kind: 'job' | 'result' | 'decided', id: string): void {
    if (!n.conn) return;
    if (kind !== 'result' || n.draining) {
      if (kind === 'job') n.conn.out.ackJob(id);
      else n.conn.out.ackResult(id);
      this.pending.add(n);
      return;
    }
    n.conn.out.ackResultLater(id);
    if (!this.late.has(n)) this.late.set(n, Date.now());
    this.timer ??= setTimeout(() => this.flushLate(), this.lateAckMs).unref();
  }

  /** Tells `n` to stop its copy of a job (it finished elsewhere or was cancelled). */
  cancel(n: NodeEntry, id: string): void {
    n.conn?.out.cancel(id);
  }

  /** Sends what waits for the nodes with new frames, and the result acks that waited long enough. */
  flush(now = Date.now()): void {
    this.lastFlush = now;
    for (const n of this.pending) {
      n.conn?.out.flush();
      this.late.delete(n);
    }
    this.pending.clear();
    for (const [n, since] of this.late) {
      if (now - since < this.lateAckMs) break;
      n.conn?.out.flush();
      this.late.delete(n);
    }
  }

  /**
   * The timer: acks due while flushes still come leave with the next one (a long commit must
   * not make them leave just before the dispatches they could ride with).
   */
  private flushLate(): void {
    this.timer = undefined;
    const now = Date.now();
    if (now - this.lastFlush >= this.lateAckMs) this.flush(now);
    if (this.late.size > 0) this.timer = setTimeout(() => this.flushLate(), this.lateAckMs).unref();
  }
}
