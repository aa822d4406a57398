import type { JobResult } from './job-view.js';
import { MAX_BATCH, type FrameIn, type WireJob } from './protocol.js';

/**
 * Collects one connection's outgoing jobs, results, acks and cancels during a tick and sends
 * them as a few array frames, so a burst of 10,000 jobs costs a handful of frames.
 *
 * Given `sendText`, jobs and results may come with their JSON already made (`jobText`,
 * `resultText`: the proxy stores the same text it sends), and their frames are then put
 * together as text instead of being encoded again.
 */
export class FrameBatcher {
  private jobs: WireJob[] = [];
  private results: JobResult[] = [];
  private jobTexts: string[] = [];
  private resultTexts: string[] = [];
  private ackJobs: string[] = [];
  private ackResults: string[] = [];
  private cancels: string[] = [];
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly send: (frame: FrameIn) => void,
    /** Runs the sends of one flush so they leave in one system call (see `withCork`). */
    private readonly batch: (sends: () => void) => void = (sends) => sends(),
    /** Sends one frame given as JSON text (the jobs and results queued as text). */
    private readonly sendText?: (json: string) => void,
  ) {}

  job(j: WireJob): void {
    this.jobs.push(j);
    this.schedule();
  }
  result(r: JobResult): void {
    this.results.push(r);
    this.schedule();
  }
  /** A job as its JSON text (a `WireJob`); encoded here when there is no `sendText`. */
  jobText(json: string): void {
    if (this.sendText) this.jobTexts.push(json);
    else this.jobs.push(JSON.parse(json) as WireJob);
    this.schedule();
  }
  /** A result as its JSON text (a `JobResult`); encoded here when there is no `sendText`. */
  resultText(json: string): void {
    if (this.sendText) this.resultTexts.push(json);
    else this.results.push(JSON.parse(json) as JobResult);
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
        this.jobTexts.length +
        this.resultTexts.length +
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
    const taken: Queued = {
      jobs: this.jobs,
      results: this.results,
      jobTexts: this.jobTexts,
      resultTexts: this.resultTexts,
      ackJobs: this.ackJobs,
      ackResults: this.ackResults,
      cancels: this.cancels,
    };
    this.clear();
    this.batch(() => this.sendAll(taken));
  }

  private sendAll(q: Queued): void {
    const { jobs, results, ackJobs, ackResults, cancels } = q;
    for (let i = 0; i < jobs.length; i += MAX_BATCH)
      this.send({ type: 'JOB', jobs: part(jobs, i) });
    this.sendTexts('{"type":"JOB","jobs":[', q.jobTexts);
    for (let i = 0; i < results.length; i += MAX_BATCH)
      this.send({ type: 'RESULT', results: part(results, i) });
    this.sendTexts('{"type":"RESULT","results":[', q.resultTexts);
    const acks = Math.max(ackJobs.length, ackResults.length);
    for (let i = 0; i < acks; i += MAX_BATCH)
      this.send({ type: 'ACK', jobs: part(ackJobs, i), results: part(ackResults, i) });
    for (let i = 0; i < cancels.length; i += MAX_BATCH)
      this.send({ type: 'CANCEL', ids: part(cancels, i) });
  }

  /** Frames of items queued as text: `head`, up to MAX_BATCH items, then `]}`. */
  private sendTexts(head: string, texts: string[]): void {
    const send = this.sendText;
    if (!send) return;
    for (let i = 0; i < texts.length; i += MAX_BATCH) send(`${head}${part(texts, i).join(',')}]}`);
  }

  /** Drops what is queued (the connection is gone; the stores resend it after a rejoin). */
  clear(): void {
    this.jobs = [];
    this.results = [];
    this.jobTexts = [];
    this.resultTexts = [];
    this.ackJobs = [];
    this.ackResults = [];
    this.cancels = [];
  }
}

/** The items of one frame from `i` on: the list itself when it fits (it is not kept). */
function part<T>(items: T[], i: number): T[] {
  return i === 0 && items.length <= MAX_BATCH ? items : items.slice(i, i + MAX_BATCH);
}

/** What a batcher holds between flushes. */
interface Queued {
  readonly jobs: WireJob[];
  readonly results: JobResult[];
  readonly jobTexts: string[];
  readonly resultTexts: string[];
  readonly ackJobs: string[];
  readonly ackResults: string[];
  readonly cancels: string[];
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
