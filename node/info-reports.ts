import type { Committer } from '../shared/db.js';
import type { Assignments } from './assignments.js';
import type { Executor } from './executor.js';
import type { ProxyLink } from './proxy-link.js';

export interface InfoReportsDeps {
  link: ProxyLink;
  executor: Executor;
  committer: Committer;
  assignments: Assignments;
  /** Whether the node is stopping. */
  draining: () => boolean;
}

/** The node's INFO frames: its load, the runs it started, and its workers' types. */
export class InfoReports {
  /** The worker types last told to the proxy (INFO carries them only when they change). */
  private workersSent: string | undefined;
  private infoScheduled = false;

  constructor(private readonly d: InfoReportsDeps) {}

  /** The proxy forgot what it was told (a new join): the worker types go again. */
  forgetWorkers(): void {
    this.workersSent = undefined;
  }

  scheduleInfo(): void {
    if (this.infoScheduled) return;
    this.infoScheduled = true;
    setImmediate(() => {
      this.infoScheduled = false;
      this.sendInfo();
    });
  }

  sendInfo(): void {
    const { link, executor } = this.d;
    if (!link.ready) return;
    const workers = executor.workerTypes();
    const text = JSON.stringify(workers);
    const changed = text !== this.workersSent;
    this.workersSent = text;
    link.send({
      type: 'INFO',
      queued: executor.queued,
      running: executor.running,
      free: executor.free,
      draining: this.d.draining() || this.d.committer.full || undefined,
      started: this.d.assignments.takeStarted(),
      workers: changed ? workers : undefined,
    });
  }
}
