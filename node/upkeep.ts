import type { NodeConfig } from '../shared/config.js';
import type { Db } from '../shared/db.js';
import { ChunkedSweep } from '../shared/expiry.js';
import type { Logger } from '../shared/log.js';
import { Reclaim } from '../shared/reclaim.js';
import type { Assignments } from './assignments.js';
import type { Executor } from './executor.js';
import type { Origin } from './origin.js';
import type { ProxyLink } from './proxy-link.js';
import type { RunLogs } from './run-logs.js';
import type { TicketStore } from './ticket-store.js';

/** How often workers' silence is checked against their jobs' timeoutMs. */
const LEASE_CHECK_MS = 100;

export interface UpkeepDeps {
  cfg: NodeConfig;
  link: ProxyLink;
  origin: Origin;
  assignments: Assignments;
  executor: Executor;
  tickets: TicketStore;
  runLogs: RunLogs;
  log: Logger;
  sendInfo: () => void;
  /** The node's database: its free pages go back to the disk after each expiry. */
  db: Db;
}

/** The node's periodic work: INFO, resending lost frames, expiring results, worker leases. */
export class Upkeep {
  private leaseTimer: NodeJS.Timeout | undefined;
  private infoTimer: NodeJS.Timeout | undefined;
  private resendTimer: NodeJS.Timeout | undefined;
  private expireTimer: NodeJS.Timeout | undefined;
  private resendPeriod = 3000;
  private lastResend = 0;
  /** RESULT_TTL expiry of tickets, a chunk per turn of the event loop (shared/expiry.ts). */
  private readonly expiry = new ChunkedSweep(() =>
    this.d.tickets.expire(Date.now() - this.d.cfg.RESULT_TTL),
  );

  /** Gives the pages the expiry freed back to the disk, a step per turn (shared/reclaim.ts). */
  private readonly reclaim: Reclaim;

  constructor(private readonly d: UpkeepDeps) {
    this.reclaim = new Reclaim(d.db, d.log);
  }

  start(): void {
    const { cfg } = this.d;
    this.infoTimer = setInterval(() => this.d.sendInfo(), cfg.INFO_PERIOD);
    this.infoTimer.unref();
    this.resendTimer = setInterval(() => this.resendStale(), 1000);
    this.resendTimer.unref();
    this.expireTimer = setInterval(() => this.expire(), Math.min(cfg.RESULT_TTL, 60_000));
    this.expireTimer.unref();
    this.leaseTimer = setInterval(() => this.d.executor.expireLeases(), LEASE_CHECK_MS);
    this.leaseTimer.unref();
  }

  /** The proxy's REQUEST_OF_RES period (WELCOME): what goes unacknowledged that long goes again. */
  setResendPeriod(period: number): void {
    if (this.resendPeriod !== period) {
      this.resendPeriod = period;
      clearInterval(this.resendTimer);
      this.resendTimer = setInterval(() => this.resendStale(), Math.min(1000, this.resendPeriod));
      this.resendTimer.unref();
    }
  }

  /** Repairs lost frames: what is still unacknowledged goes again every period. */
  private resendStale(): void {
    if (!this.d.link.ready) return;
    const now = Date.now();
    if (now - this.lastResend < this.resendPeriod) return;
    this.lastResend = now;
    this.d.origin.resendStale(now, this.resendPeriod);
    this.d.assignments.resendResults(now - this.resendPeriod);
  }

  private expire(): void {
    const before = Date.now() - this.d.cfg.RESULT_TTL;
    this.expiry.run((n) => {
      if (n > 0) this.d.log.info({ deleted: n }, 'expired old results');
      // after every sweep, not only those that deleted: a file left with free pages by a
      // restart midway is reclaimed too, and a file without enough to reclaim costs a look
      this.reclaim.run();
    });
    const logs = this.d.runLogs.expire(before);
    if (logs > 0) this.d.log.info({ deleted: logs }, 'expired old job logs');
  }

  stop(): void {
    clearInterval(this.infoTimer);
    clearInterval(this.resendTimer);
    clearInterval(this.expireTimer);
    this.expiry.stop();
    this.reclaim.stop();
    clearInterval(this.leaseTimer);
  }
}
