import { performance } from 'node:perf_hooks';
import { Etcd3, type Campaign, type Election, type ElectionObserver, type Lease } from 'etcd3';
import type { Logger } from '../shared/log.js';
import type { Fence } from './etcd-group-store.js';

export interface EtcdElectionOptions {
  endpoints: readonly string[];
  /** The election's name: proxies of one group share it. */
  name: string;
  ttlSeconds: number;
  /** What this proxy announces while it leads: the URL nodes reach it at. */
  value: string;
  log: Logger;
}

/** What the election tells the proxy; times are `performance.now()` milliseconds. */
export interface ElectionEvents {
  elected(epoch: number, grantedAt: number): void;
  /** The election's current leader value, `undefined` while there is none. */
  observed(leader: string | undefined): void;
  lost(err: Error): void;
  keepaliveSent(at: number): void;
  keepaliveConfirmed(): void;
  keepaliveFailed(): void;
}

const RETRY_MS = 500;

/**
 * The etcd edge of leadership: one campaign at a time through etcd3's Election API (a key
 * under a lease; the oldest key leads) and an observer of who leads. The campaign's key
 * creation revision is the leader's epoch: a later leader's key is always newer.
 */
export class EtcdElection {
  private readonly etcd: Etcd3;
  private readonly election: Election;
  private campaign: Campaign | undefined;
  private observer: ElectionObserver | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private generation = 0;
  private won: Fence | undefined;

  constructor(
    private readonly opts: EtcdElectionOptions,
    private readonly events: ElectionEvents,
  ) {
    this.etcd = new Etcd3({
      hosts: [...opts.endpoints],
      dialTimeout: 2000,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 2000 }),
    });
    this.election = this.etcd.election(opts.name, opts.ttlSeconds);
  }

  start(): void {
    this.campaignNow();
    void this.observe();
  }

  /** The etcd client, for the leader's group state. */
  get client(): Etcd3 {
    return this.etcd;
  }

  /** The key and epoch of the campaign this proxy last won: what fences its writes. */
  get fence(): Fence | undefined {
    return this.won;
  }

  /**
   * Gives up this proxy's claim (its lease is revoked, so another proxy may lead at once) and
   * campaigns again: for a leader that stopped acting on its own, e.g. after a long pause.
   */
  restart(): void {
    const old = this.campaign;
    this.campaign = undefined;
    this.won = undefined;
    this.generation++;
    const again = () => {
      if (!this.closed) this.campaignNow();
    };
    if (!old) return again();
    old.resign().then(again, (err: unknown) => {
      this.opts.log.warn({ err }, 'could not resign from the election');
      this.later(again);
    });
  }

  private later(fn: () => void): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(fn, RETRY_MS);
    this.retry.unref();
  }

  private campaignNow(): void {
    const generation = ++this.generation;
    const current = () => generation === this.generation && !this.closed;
    const grantedAt = performance.now(); // the lease cannot start before its grant is asked
    const campaign = this.election.campaign(this.opts.value);
    this.campaign = campaign;
    this.watchLease(campaign, current);
    campaign.on('elected', () => {
      if (!current()) return;
      this.fenceOf(campaign).then(
        (fence) => {
          if (!current()) return;
          this.won = fence;
          this.events.elected(fence.epoch, grantedAt);
        },
        (err: unknown) => this.failed(campaign, current, err),
      );
    });
    campaign.on('error', (err) => this.failed(campaign, current, err));
  }

  private failed(campaign: Campaign, current: () => boolean, err: unknown): void {
    if (!current()) return;
    this.generation++;
    this.campaign = undefined;
    this.won = undefined;
    campaign.resign().catch(() => {});
    this.opts.log.warn({ err }, 'the etcd campaign failed; campaigning again');
    this.events.lost(err instanceof Error ? err : new Error(String(err)));
    this.later(() => {
      if (!this.closed && !this.campaign) this.campaignNow();
    });
  }

  /**
   * Follows the campaign's lease keep-alives: the leader's claim runs from the last one etcd
   * answered. etcd3 keeps the campaign's lease private; without it the claim would have to
   * rest on the grant alone, so its absence is an error, not a silent fallback.
   */
  private watchLease(campaign: Campaign, current: () => boolean): void {
    const lease = (campaign as unknown as { lease?: Lease }).lease;
    if (!lease || typeof lease.on !== 'function') {
      throw new Error('etcd3 no longer exposes the campaign lease; cannot fence leadership');
    }
    lease.on('keepaliveFired', () => {
      if (current()) this.events.keepaliveSent(performance.now());
    });
    lease.on('keepaliveSucceeded', () => {
      if (current()) this.events.keepaliveConfirmed();
    });
    lease.on('keepaliveFailed', () => {
      if (current()) this.events.keepaliveFailed();
    });
  }

  /** The campaign's key and its creation revision: this leader's epoch. */
  private async fenceOf(campaign: Campaign): Promise<Fence> {
    const key = await campaign.getCampaignKey();
    const res = await this.etcd.get(key).exec();
    const rev = Number(res.kvs[0]?.create_revision ?? NaN);
    if (!Number.isSafeInteger(rev) || rev < 1) throw new Error(`no campaign key ${key} in etcd`);
    return { key, epoch: rev };
  }

  private async observe(): Promise<void> {
    try {
      const observer = await this.election.observe();
      if (this.closed) return void observer.cancel();
      this.observer = observer;
      this.events.observed(observer.leader());
      observer.on('change', (leader) => this.events.observed(leader));
      observer.on('error', (err) => {
        this.opts.log.warn({ err }, 'lost the etcd election observer; observing again');
        this.observer = undefined;
        this.later(() => void this.observe());
      });
    } catch (err) {
      if (this.closed) return;
      this.opts.log.warn({ err }, 'cannot observe the etcd election yet');
      this.later(() => void this.observe());
    }
  }

  /** Resigns (a graceful stop hands leadership over at once) and closes the client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retry);
    const steps = [this.campaign?.resign(), this.observer?.cancel()];
    await Promise.allSettled(steps.map((p) => withTimeout(p, 2000)));
    this.etcd.close();
  }
}

function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  if (!p) return Promise.resolve();
  return Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
}
