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
  /** The load last told to the proxy. */
  private loadSent: string | undefined;
  private infoScheduled = false;

  constructor(private readonly d: InfoReportsDeps) {}

  /** The proxy forgot what it was told (a new join): the worker types go again. */
  forgetWorkers(): void {
    this.workersSent = undefined;
    this.loadSent = undefined;
  }

  /**
   * An INFO at the end of this tick, when there is news: runs the proxy placed here started,
   * or the load changed (a job that ends in the tick it starts, an echo, changes nothing).
   */
  scheduleInfo(): void {
    if (this.infoScheduled) return;
    this.infoScheduled = true;
    setImmediate(() => {
      this.infoScheduled = false;
      this.sendInfo(false);
    });
  }

  /**
   * Sends INFO; with `always` false, only when it says something the last one did not. The
   * periodic one always goes: it repairs a frame lost on the way.
   */
  sendInfo(always = true): void {
    const { link, executor, assignments } = this.d;
    if (!link.ready) return;
    const { queued, running, free } = executor;
    const draining = this.d.draining() || this.d.committer.full || undefined;
    const load = `${queued} ${running} ${free} ${draining}`;
    if (!always && load === this.loadSent && !assignments.hasStarted()) return;
    this.loadSent = load;
    const workers = executor.workerTypes();
    const text = JSON.stringify(workers);
    const changed = text !== this.workersSent;
    this.workersSent = text;
    const started = assignments.takeStarted();
    link.send({
      type: 'INFO',
      queued,
      running,
      free,
      draining,
      started,
      workers: changed ? workers : undefined,
    });
  }
}
