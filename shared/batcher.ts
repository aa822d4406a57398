import type { JobResult } from './job.js';
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
  private scheduled = false;

  constructor(private readonly send: (frame: FrameIn) => void) {}

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
  cancel(id: string): void {
    this.cancels.push(id);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends everything queued, in a fixed order: jobs, results, acks, cancels. */
  flush(): void {
    this.scheduled = false;
    const { jobs, results, ackJobs, ackResults, cancels } = this;
    if (jobs.length + results.length + ackJobs.length + ackResults.length + cancels.length === 0) {
      return;
    }
    this.jobs = [];
    this.results = [];
    this.ackJobs = [];
    this.ackResults = [];
    this.cancels = [];
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
