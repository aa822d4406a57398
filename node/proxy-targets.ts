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
  /** The leader this node was joined to and lost, until it joins again. */
  private lost: string | undefined;
  private file: number | undefined;

  constructor(
    private readonly urls: readonly string[],
    /** The newest epoch this node saw before (kept across restarts). */
    epoch = 0,
    /** The incarnation of the proxy's file this node was last welcomed with (kept likewise). */
    incarnation?: number,
  ) {
    if (urls.length === 0) throw new Error('no proxy URL');
    this.current = urls[0] as string;
    this.newest = epoch;
    this.file = incarnation;
  }

  /** The proxy to connect to now. */
  get url(): string {
    return this.current;
  }

  /**
   * The URL to open: in a group, after losing its leader, it says which (`?lost=`), so a
   * follower that still sees that leader's lease waits for the election instead of naming it.
   */
  get connectUrl(): string {
    if (!this.group || this.lost === undefined) return this.current;
    const sep = this.current.includes('?') ? '&' : '?';
    return `${this.current}${sep}lost=${encodeURIComponent(this.lost)}`;
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
   * is tried next, at once the first time (`'now'`: it was elected, the named proxy leads);
   * anything else moves on to the next proxy in the list, after the usual backoff.
   */
  closed(code: number, reason: string, joined = false): 'now' | 'later' {
    // gone without a word (killed, cut off) or shutting down: its lease may still look alive
    if (joined && (code === 1006 || code === 1001)) this.lost = this.current;
    if (code === NOT_LEADER_CODE) {
      const named = /leader: (wss?:\/\/\S+)/.exec(reason)?.[1];
      if (named && named !== this.current) {
        // a second hop in a row waits: followers whose views lag must not bounce it around
        const first = this.hint === undefined;
        this.hint = named;
        this.current = named;
        return first ? 'now' : 'later';
      }
    }
    this.advance();
    return 'later';
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
    this.lost = undefined;
    if (epoch === undefined) return 'same';
    if (epoch < this.newest) return 'stale';
    if (epoch === this.newest) return 'same';
    this.newest = epoch;
    return 'new';
  }

  /**
   * The incarnation of the proxy's file a WELCOME named (undefined: a proxy of an earlier
   * release, nothing changes). 'other' when it differs from the one this node was last welcomed
   * with: that file is not the one that acknowledged what this node sent (restored from a
   * backup, or new on an empty DATA_DIR), so tell it everything, as a new leader. 'first' when
   * none was seen yet (a first join, or a node of an earlier release): only remembered.
   */
  fileWelcomed(incarnation: number | undefined): 'same' | 'first' | 'other' {
    if (incarnation === undefined || incarnation === this.file) return 'same';
    const was = this.file;
    this.file = incarnation;
    return was === undefined ? 'first' : 'other';
  }

  /** The incarnation of the proxy's file last welcomed with. */
  get incarnation(): number | undefined {
    return this.file;
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
