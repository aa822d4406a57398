import { performance } from 'node:perf_hooks';
import { Election, Etcd3, type Campaign, type Lease, type Watcher } from 'etcd3';
import type { Logger } from '../shared/log.js';
import type { Fence } from './etcd-group-store.js';
import { EtcdWarnings } from './etcd-warnings.js';

export interface EtcdElectionOptions {
  endpoints: readonly string[];
  /** The election's name: proxies of one group share it. */
  name: string;
  ttlSeconds: number;
  /** What this proxy announces while it leads: the URL nodes reach it at. */
  value: string;
  /** The CA certificate (PEM) to trust for https:// endpoints, instead of the system's (TLS_CA). */
  ca?: Buffer | undefined;
  log: Logger;
}

/** What the election tells the proxy; times are `performance.now()` milliseconds. */
export interface ElectionEvents {
  elected(epoch: number, grantedAt: number): void;
  /**
   * The election's leader as etcd answered a read: its oldest key's value and creation
   * revision (its epoch), both `undefined` while there is none. Reads follow every change.
   */
  observed(leader: string | undefined, epoch: number | undefined): void;
  lost(err: Error): void;
  keepaliveSent(at: number): void;
  keepaliveConfirmed(): void;
  keepaliveFailed(): void;
}

const RETRY_MS = 500;
/** The longest wait before reconnecting to etcd, for gRPC and for the watch stream. */
const RECONNECT_MAX_MS = 1000;

interface Backoff {
  readonly duration: number;
  next(): Backoff;
}

/** A doubling backoff up to `maxMs` (cockatiel's IBackoff, which etcd3 takes for its watches). */
function cappedBackoff(ms: number, maxMs: number): Backoff {
  return { duration: ms, next: () => cappedBackoff(Math.min(ms * 2, maxMs), maxMs) };
}

/**
 * The etcd edge of leadership: one campaign at a time through etcd3's Election API (a key
 * under a lease; the oldest key leads) and an observer of who leads. The campaign's key
 * creation revision is the leader's epoch: a later leader's key is always newer.
 *
 * The observer is this module's own, not etcd3's ElectionObserver: that one, when several
 * keys appear between its first read and its watch (proxies starting together), takes the
 * newest of them for the leader and keeps naming it until that key goes. Here every change
 * under the election's prefix is followed by a read of the oldest key, one read at a time.
 */
export class EtcdElection {
  private readonly etcd: Etcd3;
  private readonly election: Election;
  private campaign: Campaign | undefined;
  private readonly prefix: string;
  private watcher: Watcher | undefined;
  /** A read of who leads is under way; `readAgain`: something changed meanwhile. */
  private reading = false;
  private readAgain = false;
  /** Retries of the campaign and of the observer: each its own, one never cancels the other. */
  private readonly retries = new Map<'campaign' | 'observe' | 'read', NodeJS.Timeout>();
  private closed = false;
  private generation = 0;
  private won: Fence | undefined;
  /** Retries while etcd is away log when they start, every few seconds, and when they end. */
  private readonly warnings: EtcdWarnings;

  constructor(
    private readonly opts: EtcdElectionOptions,
    private readonly events: ElectionEvents,
  ) {
    this.etcd = new Etcd3({
      hosts: [...opts.endpoints],
      ...(opts.ca ? { credentials: { rootCertificate: opts.ca } } : {}),
      dialTimeout: 2000,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 2000 }),
      // etcd back must mean a leader within a lease or so: the defaults let gRPC wait up to
      // 120 s before reconnecting and the watch stream up to 30 s, both growing through an
      // outage, so an election could wait half a minute after etcd answered again
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 250,
        'grpc.max_reconnect_backoff_ms': RECONNECT_MAX_MS,
      },
      faultHandling: { watchBackoff: cappedBackoff(250, RECONNECT_MAX_MS) },
    });
    this.election = this.etcd.election(opts.name, opts.ttlSeconds);
    this.warnings = new EtcdWarnings(opts.log);
    this.prefix = `${Election.prefix}/${opts.name}/`;
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
      this.warnings.failed(
        'campaign',
        err,
        'could not resign from the etcd election; trying again',
      );
      this.later('campaign', again);
    });
  }

  private later(what: 'campaign' | 'observe' | 'read', fn: () => void): void {
    clearTimeout(this.retries.get(what));
    const timer = setTimeout(() => {
      this.retries.delete(what);
      if (!this.closed) fn();
    }, RETRY_MS);
    timer.unref();
    this.retries.set(what, timer);
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
          this.warnings.ok('campaign', 'etcd answers the campaign again');
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
    this.warnings.failed('campaign', err, 'the etcd campaign failed; campaigning again');
    this.events.lost(err instanceof Error ? err : new Error(String(err)));
    this.later('campaign', () => {
      if (!this.campaign) this.campaignNow();
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

  /** Watches the election's keys; each change (and each resumed stream) reads who leads. */
  private async observe(): Promise<void> {
    try {
      const watcher = await this.etcd.watch().prefix(this.prefix).create();
      if (this.closed) return void watcher.cancel();
      this.watcher = watcher;
      this.warnings.ok('observe', 'watching the etcd election again');
      watcher.on('data', () => this.readLeader());
      watcher.on('connected', () => this.readLeader());
      watcher.on('error', (err) => {
        if (this.closed) return;
        this.warnings.failed('observe', err, 'lost the etcd election watch; watching again');
        this.watcher = undefined;
        void watcher.cancel().catch(() => {});
        this.later('observe', () => void this.observe());
      });
      // after the watch exists: a key that comes later is seen by both, never by neither
      this.readLeader();
    } catch (err) {
      if (this.closed) return;
      this.warnings.failed('observe', err, 'cannot watch the etcd election yet; trying again');
      this.later('observe', () => void this.observe());
    }
  }

  /** Reads the oldest key; a change during a read is followed by another read. */
  private readLeader(): void {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    this.readAgain = false;
    this.etcd
      .getAll()
      .prefix(this.prefix)
      .sort('Create', 'Ascend')
      .limit(1)
      .exec()
      .then(
        (res) => {
          this.reading = false;
          if (this.closed) return;
          this.warnings.ok('read', 'etcd answers who leads again');
          const kv = res.kvs[0];
          this.events.observed(kv?.value.toString(), kv ? Number(kv.create_revision) : undefined);
          if (this.readAgain) this.readLeader();
        },
        (err: unknown) => {
          this.reading = false;
          if (this.closed) return;
          this.warnings.failed(
            'read',
            err,
            'cannot read who leads the etcd election; reading again',
          );
          this.later('read', () => this.readLeader());
        },
      );
  }

  /** Resigns (a graceful stop hands leadership over at once) and closes the client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.retries.values()) clearTimeout(t);
    const steps = [this.campaign?.resign(), this.watcher?.cancel()];
    await Promise.allSettled(steps.map((p) => withTimeout(p, 2000)));
    this.etcd.close();
  }
}

function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  if (!p) return Promise.resolve();
  return Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
}
