import type { JobResult } from './job-view.js';
import { MAX_BATCH, type FrameIn, type WireJob } from './protocol.js';

/**
 * Collects one connection's outgoing jobs, results, acks and cancels during a tick and sends
 * them as a few array frames, so a burst of 10,000 jobs costs a handful of frames.
 */
export class FrameBatcher {
  private jobs: WireJob[] = [];
  private results: JobResult[] = [];
  private ackJobs: string[] = [];
  private ackResults: string[] = [];
  private cancels: string[] = [];
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly send: (frame: FrameIn) => void,
    /** Runs the sends of one flush so they leave in one system call (see `withCork`). */
    private readonly batch: (sends: () => void) => void = (sends) => sends(),
  ) {}

  job(j: WireJob): void {
    this.jobs.push(j);
    this.schedule();
  }
  result(r: JobResult): void {
    this.results.push(r);
    this.schedule();
  }
  ackJob(id: string): void {
    this.ackJobs.push(id);
    this.schedule();
  }
  ackResult(id: string): void {
    this.ackResults.push(id);
    this.schedule();
  }
  /**
   * Acknowledges a result without a send of its own: it leaves with whatever this connection
   * sends next (the caller flushes it in time when nothing else comes).
   */
  ackResultLater(id: string): void {
    this.ackResults.push(id);
  }
  /** Whether anything waits to be sent. */
  get waiting(): boolean {
    return (
      this.jobs.length +
        this.results.length +
        this.ackJobs.length +
        this.ackResults.length +
        this.cancels.length >
      0
    );
  }
  cancel(id: string): void {
    this.cancels.push(id);
    this.schedule();
  }

  private schedule(): void {
    this.immediate ??= setImmediate(() => this.flush());
  }

  /** Sends everything queued, in a fixed order: jobs, results, acks, cancels. */
  flush(): void {
    // flushed by its owner before the tick ended: the send scheduled for it has nothing to do
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    if (!this.waiting) return;
    const { jobs, results, ackJobs, ackResults, cancels } = this;
    this.jobs = [];
    this.results = [];
    this.ackJobs = [];
    this.ackResults = [];
    this.cancels = [];
    this.batch(() => this.sendAll(jobs, results, ackJobs, ackResults, cancels));
  }

  private sendAll(
    jobs: WireJob[],
    results: JobResult[],
    ackJobs: string[],
    ackResults: string[],
    cancels: string[],
  ): void {
    for (let i = 0; i < jobs.length; i += MAX_BATCH)
      this.send({ type: 'JOB', jobs: jobs.slice(i, i + MAX_BATCH) });
    for (let i = 0; i < results.length; i += MAX_BATCH)
      this.send({ type: 'RESULT', results: results.slice(i, i + MAX_BATCH) });
    const acks = Math.max(ackJobs.length, ackResults.length);
    for (let i = 0; i < acks; i += MAX_BATCH)
      this.send({
        type: 'ACK',
        jobs: ackJobs.slice(i, i + MAX_BATCH),
        results: ackResults.slice(i, i + MAX_BATCH),
      });
    for (let i = 0; i < cancels.length; i += MAX_BATCH)
      this.send({ type: 'CANCEL', ids: cancels.slice(i, i + MAX_BATCH) });
  }

  /** Drops what is queued (the connection is gone; the stores resend it after a rejoin). */
  clear(): void {
    this.jobs = [];
    this.results = [];
    this.ackJobs = [];
    this.ackResults = [];
    this.cancels = [];
  }
}

/**
 * Runs `fn` with the WebSocket's TCP socket corked, so the frames it sends leave in one write
 * instead of one system call each. `ws` keeps its socket private; without one, `fn` just runs.
 */
export function withCork(ws: object, fn: () => void): void {
  const socket = (ws as { _socket?: { cork?: () => void; uncork?: () => void } })._socket;
  if (!socket?.cork || !socket.uncork) return fn();
  socket.cork();
  try {
    fn();
  } finally {
    socket.uncork();
  }
}
