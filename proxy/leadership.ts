/**
 * Leadership of a proxy group, as plain state: who leads, under which epoch, and until when
 * this proxy may act as leader. The etcd edge (`etcd-election.ts`) feeds it events; the proxy
 * asks it before every dispatch and commit. Times are monotonic milliseconds
 * (`performance.now()`), so a process paused by SIGSTOP finds its lease lapsed on waking.
 */

export type LeaderState =
  | { role: 'single' }
  | { role: 'follower'; leader: string | undefined }
  | { role: 'leader'; epoch: number; validUntil: number };

/**
 * What the proxy must do after an event. `campaign-again`: it won, but too late to trust its
 * lease; it must give up its key, or it would hold the group with nobody leading. `resign`:
 * it stops leading and gives its key up likewise.
 */
export type LeaderAction = 'lead' | 'step-down' | 'resign' | 'campaign-again' | 'none';

export interface LeadershipOptions {
  /** The lease's time to live in milliseconds. */
  ttlMs: number;
  /**
   * How much sooner than the lease this proxy stops acting: etcd measures the lease from
   * when it received the keep-alive, later than it was sent, so this is only for clock drift.
   */
  marginMs: number;
}

/**
 * The leader's claim is valid until `ttl` after the last keep-alive that etcd confirmed was
 * *sent*: etcd cannot expire the lease sooner, so no other proxy can lead before then.
 */
export class Leadership {
  private current: LeaderState;
  /** When each keep-alive still unanswered was sent (etcd answers them in order). */
  private unanswered: number[] = [];
  private lastConfirmed = -Infinity;

  constructor(
    private name: string,
    private readonly opts: LeadershipOptions | undefined,
  ) {
    this.current = opts ? { role: 'follower', leader: undefined } : { role: 'single' };
  }

  /** This proxy's URL, as announced in the election. */
  get self(): string {
    return this.name;
  }

  /** Sets this proxy's URL (known once its port is). */
  rename(url: string): void {
    this.name = url;
  }

  get state(): Readonly<LeaderState> {
    return this.current;
  }

  /** The epoch this proxy leads under; 0 for a single proxy (no group). */
  get epoch(): number {
    return this.current.role === 'leader' ? this.current.epoch : 0;
  }

  /** Who leads, as nodes should be told: this proxy's URL, another's, or unknown. */
  get leader(): string | undefined {
    if (this.current.role === 'follower') return this.current.leader;
    return this.self;
  }

  /** A keep-alive of the lease is about to be sent. */
  keepaliveSent(at: number): void {
    // past this many something is wrong; pairing a later answer with an earlier send only
    // shortens the claim
    if (this.unanswered.length < 64) this.unanswered.push(at);
  }

  /** The keep-alive stream broke: keep-alives in flight will never be answered. */
  keepaliveFailed(): void {
    this.unanswered = [];
  }

  /** etcd confirmed the oldest unanswered keep-alive: the claim extends from when it was sent. */
  keepaliveConfirmed(): void {
    const sent = this.unanswered.shift();
    if (sent === undefined) return;
    this.lastConfirmed = Math.max(this.lastConfirmed, sent);
    if (this.current.role === 'leader' && this.opts) {
      this.current.validUntil = Math.max(this.current.validUntil, this.claimUntil());
    }
  }

  private claimUntil(): number {
    if (!this.opts) return Infinity;
    return this.lastConfirmed + this.opts.ttlMs - this.opts.marginMs;
  }

  /**
   * The campaign won with `epoch` (the creation revision of this proxy's key, larger than
   * every earlier leader's). `grantedAt` is when the lease was granted or last renewed.
   */
  elected(epoch: number, grantedAt: number, now: number): LeaderAction {
    if (!this.opts || this.current.role === 'leader') return 'none';
    this.lastConfirmed = Math.max(this.lastConfirmed, grantedAt);
    const validUntil = this.claimUntil();
    // Won too late (its event waited behind a busy event loop): the lease may be gone, so it
    // may not lead, yet etcd still names its key as the oldest while the lease lives.
    if (now >= validUntil) return 'campaign-again';
    this.current = { role: 'leader', epoch, validUntil };
    return 'lead';
  }

  /**
   * The election's leader as read from etcd: the value of its oldest key and that key's
   * creation revision (both `undefined` while there is none). A leader judges by the
   * revision, never by the value: a read answered before it won names an older key (gone
   * since, or it could not have won), which changes nothing; only a newer key means its own
   * is gone. It then resigns rather than only stepping down: a proxy that stops leading while
   * its key may still be the oldest would hold the group with nobody leading.
   */
  observed(leader: string | undefined, epoch: number | undefined): LeaderAction {
    if (!this.opts) return 'none';
    const named = leader === this.self ? undefined : leader;
    if (this.current.role === 'leader') {
      if (epoch === undefined || epoch <= this.current.epoch) return 'none';
      this.current = { role: 'follower', leader: named };
      return 'resign';
    }
    this.current = { role: 'follower', leader: named };
    return 'none';
  }

  /** The lease or the campaign failed. */
  lost(): LeaderAction {
    if (!this.opts) return 'none';
    const was = this.current.role === 'leader';
    this.current = { role: 'follower', leader: undefined };
    return was ? 'step-down' : 'none';
  }

  /**
   * Whether this proxy may dispatch and commit now. A lapsed claim turns it into a follower
   * (the caller then steps down); a single proxy always may.
   */
  mayAct(now: number): boolean {
    if (this.current.role === 'single') return true;
    if (this.current.role === 'follower') return false;
    if (now < this.current.validUntil) return true;
    this.current = { role: 'follower', leader: undefined };
    return false;
  }
}
