import type { JobSpec } from '../shared/job.js';
import type { Logger } from '../shared/log.js';
import type { Executor } from './executor.js';
import type { OpenTicket } from './origin.js';
import type { ProxyLink } from './proxy-link.js';

export interface LocalFallbackDeps {
  link: ProxyLink;
  executor: Executor;
  /** The origin's open tickets. */
  open: Map<string, OpenTicket>;
  counters: { localRuns: number; fallbacks: number };
  /** LOCAL_FALLBACK: how long without the proxy before this node runs its own jobs. */
  localFallbackMs: number;
  /** Whether the node is stopping. */
  closed: () => boolean;
  log: Logger;
}

/** LOCAL_FALLBACK: when the proxy has been away that long, this node runs its own tickets. */
export class LocalFallback {
  private fallbackTimer: NodeJS.Timeout | undefined;
  active = false;

  constructor(private readonly d: LocalFallbackDeps) {}

  /** The proxy is away: after LOCAL_FALLBACK, this node runs its own tickets. */
  arm(): void {
    clearTimeout(this.fallbackTimer);
    if (this.d.localFallbackMs <= 0 || this.d.link.ready) return;
    this.fallbackTimer = setTimeout(() => this.enter(), this.d.localFallbackMs);
    this.fallbackTimer.unref();
  }

  /** The proxy is back: leave fallback. */
  leave(): void {
    clearTimeout(this.fallbackTimer);
    if (this.active) {
      this.active = false;
      this.d.log.info('the proxy is back: leaving local fallback');
    }
  }

  private enter(): void {
    if (this.d.link.ready || this.d.closed()) return;
    this.active = true;
    this.d.counters.fallbacks++;
    let n = 0;
    for (const t of this.d.open.values()) {
      if (t.state === 'accepted' && !t.local && runsWithoutProxy(t.spec)) {
        this.runLocally(t);
        n++;
      }
    }
    this.d.log.warn({ jobs: n }, 'no proxy for LOCAL_FALLBACK: running this node’s own jobs here');
  }

  runLocally(t: OpenTicket): void {
    // a schedule lives on the proxy: it waits here, accepted, until the proxy is back
    if (t.spec.cron !== undefined) return;
    // a job of many tasks needs the proxy to spread them: it waits for it (and is forwarded
    // when the link returns)
    if (t.spec.tasks) return;
    // a custom type no worker here serves waits for the proxy to place it where one does
    if (!this.d.executor.accepts(t.spec)) return;
    t.local = true;
    this.d.counters.localRuns++;
    this.d.executor.enqueue(t.id, t.spec);
  }

  /** Stops the timer (the node is stopping). */
  close(): void {
    clearTimeout(this.fallbackTimer);
  }
}

/**
 * Whether LOCAL_FALLBACK may run a job here: not one that waits for a time, nor one that waits
 * for other jobs (`after`: only the proxy knows when they are done; such a job is claimed, so
 * it is here only once the proxy took it, or sent again to a proxy that may lack it).
 */
export function runsWithoutProxy(spec: JobSpec): boolean {
  return spec.delayMs === undefined && spec.runAt === undefined && spec.after === undefined;
}
