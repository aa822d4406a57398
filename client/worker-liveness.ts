import { ReplyDeadline } from './reply-deadline.js';

/**
 * How long a worker's connection may go without a byte from the node before the worker asks
 * `PING`: half the reply timeout. Once registered, a worker sends nothing the node answers
 * (`DONE`, `FAIL` and `PROGRESS` get no reply when accepted), so a node that froze (SIGSTOP, a
 * stuck event loop: its kernel still ACKs, so TCP keepalive never fires) would leave it
 * waiting for jobs, and its results unheard, for ever. With half the timeout, a frozen node is
 * found at most 1.5 timeouts after its last byte. The cost is small: a worker that hears `JOB`
 * lines sends no PING at all, an idle one sends 5 bytes every 7.5 s at the default, and the node
 * answers it with 8 bytes from memory (no disk, no peer), so a healthy node answers far within
 * the timeout, even when busy, and an idle worker does not churn connections.
 */
export function idlePingMs(replyTimeoutMs: number): number {
  return Math.max(1, Math.round(replyTimeoutMs / 2));
}

/**
 * The liveness of one worker connection: a `PING` when it has been quiet for idlePingMs, and
 * `onHung` when no byte at all (a `JOB` or `CANCEL` line counts as much as the `OK PONG`) has
 * come within the reply timeout of that PING. One idle timer and one deadline timer at most,
 * re-armed lazily, so a busy connection sets no timer per chunk. A timeout of 0: neither.
 */
export class WorkerLiveness {
  private heardAt = Date.now();
  /** A PING is out and its `OK PONG` has not come yet. */
  private pinged = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;
  private readonly deadline: ReplyDeadline;

  constructor(
    timeoutMs: number,
    private readonly sendPing: () => void,
    onHung: (silentMs: number) => void,
  ) {
    this.idleMs = idlePingMs(timeoutMs);
    this.deadline = new ReplyDeadline(timeoutMs, () => (this.pinged ? 0 : undefined), onHung);
    if (timeoutMs > 0) this.schedule(this.idleMs);
  }

  /** Bytes arrived from the node: it is alive, whatever they say. */
  heard(now = Date.now()): void {
    this.heardAt = now;
    this.deadline.touch(now);
  }

  /** The node's `OK PONG`: the PING is answered (the bytes were already heard). */
  ponged(): void {
    this.pinged = false;
  }

  stop(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.deadline.stop();
  }

  private schedule(ms: number): void {
    this.idleTimer = setTimeout(() => this.idle(), ms);
    this.idleTimer.unref();
  }

  private idle(): void {
    const now = Date.now();
    const quiet = now - this.heardAt;
    if (this.pinged || quiet < this.idleMs) {
      // a PING out is the deadline's to judge; a byte since: the quiet starts from it
      return this.schedule(this.pinged ? this.idleMs : this.idleMs - quiet);
    }
    this.pinged = true;
    this.deadline.touch(now);
    this.sendPing();
    this.deadline.arm();
    this.schedule(this.idleMs);
  }
}
