import { NOT_LEADER_CODE } from '../shared/protocol.js';

/**
 * Which proxy a node talks to, as plain state: the PROXY_URL list, the leader a refusing
 * follower named, and the newest epoch seen. A node with one URL keeps using it, as before.
 */
export class ProxyTargets {
  private index = 0;
  /** A leader named by a follower's refusal: tried next, once. */
  private hint: string | undefined;
  private current: string;
  private newest: number;

  constructor(
    private readonly urls: readonly string[],
    /** The newest epoch this node saw before (kept across restarts). */
    epoch = 0,
  ) {
    if (urls.length === 0) throw new Error('no proxy URL');
    this.current = urls[0] as string;
    this.newest = epoch;
  }

  /** The proxy to connect to now. */
  get url(): string {
    return this.current;
  }

  /** The newest epoch seen: frames of an older one come from a deposed leader. */
  get epoch(): number {
    return this.newest;
  }

  /** Whether the connection failed before or after joining: move on to the next proxy. */
  failed(): void {
    this.advance();
  }

  /**
   * The proxy closed the connection: a follower's refusal (code 4010) names the leader, which
   * is tried next; anything else moves on to the next proxy in the list.
   */
  closed(code: number, reason: string): void {
    if (code === NOT_LEADER_CODE) {
      const named = /leader: (wss?:\/\/\S+)/.exec(reason)?.[1];
      if (named && named !== this.current) {
        this.hint = named;
        this.current = named;
        return;
      }
    }
    this.advance();
  }

  private advance(): void {
    if (this.hint) {
      // the named leader did not take us: back to the list where we were
      this.hint = undefined;
    } else {
      this.index = (this.index + 1) % this.urls.length;
    }
    this.current = this.urls[this.index] as string;
  }

  /**
   * A proxy welcomed this node under `epoch` (undefined: a single proxy). Returns 'stale' for
   * an epoch older than one seen (refuse that proxy), 'new' for a newer one (a new leader:
   * tell it everything), else 'same'.
   */
  welcomed(epoch: number | undefined): 'stale' | 'new' | 'same' {
    this.hint = undefined;
    if (epoch === undefined) return 'same';
    if (epoch < this.newest) return 'stale';
    if (epoch === this.newest) return 'same';
    this.newest = epoch;
    return 'new';
  }

  /** Whether a frame of `epoch` may be acted on. */
  accepts(epoch: number | undefined): boolean {
    return epoch === undefined || epoch >= this.newest;
  }

  /** Whether there is more than one proxy to try. */
  get group(): boolean {
    return this.urls.length > 1;
  }
}
