import type { Logger } from '../shared/log.js';

/** How long a node tries to join before it says it cannot: a proxy starting with it is normal. */
export const QUIET_MS = 3000;
/** How often a failure that goes on is said again, with how many attempts failed. */
export const REPEAT_MS = 30_000;

/**
 * Why this node cannot join a proxy, said where an operator looks (a wrong `PROXY_URL`, a
 * proxy moved to another port, an unknown host, a server that is not a Petrel proxy): each
 * failed attempt is noted with its reason, and a streak of them that lasted `quietMs` is
 * logged once with every proxy's last reason, then every `repeatMs` with a count, and once
 * more when the node joins. A refusal only the operator can mend (a wrong `CLUSTER_SECRET`, a
 * node that is not on loopback, a `NODE_ID` another node uses) is an error said at once.
 */
export class JoinTrouble {
  private since: number | undefined;
  private attempts = 0;
  private saidAt: number | undefined;
  private readonly reasons = new Map<string, string>();
  private readonly refusals = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly quietMs = QUIET_MS,
    private readonly repeatMs = REPEAT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** An attempt to join `url` failed for `reason`; `refused`: the proxy refused this node. */
  failed(url: string, reason: string, refused = false): void {
    const at = this.now();
    this.since ??= at;
    this.attempts++;
    this.reasons.set(url, reason);
    if (refused && !this.refusals.has(reason)) {
      this.refusals.add(reason);
      this.saidAt = at;
      this.log.error({ url, reason }, `the proxy at ${url} refused this node: ${reason}`);
      return;
    }
    if (at - this.since < this.quietMs) return;
    if (this.saidAt !== undefined && at - this.saidAt < this.repeatMs) return;
    this.saidAt = at;
    const where = [...this.reasons].map(([u, r]) => `${u}: ${r}`).join('; ');
    this.log.warn(
      { attempts: this.attempts, forMs: at - this.since },
      `cannot join a proxy of PROXY_URL for ${Math.round((at - this.since) / 1000)} s (${where}); still trying`,
    );
  }

  /** Joined `url`: a failure that was said is said to be over. */
  joined(url: string): void {
    if (this.saidAt !== undefined) {
      this.log.info(
        { url, attempts: this.attempts },
        `joined the proxy at ${url} after ${this.attempts} failed attempts`,
      );
    }
    this.since = undefined;
    this.saidAt = undefined;
    this.attempts = 0;
    this.reasons.clear();
    this.refusals.clear();
  }
}

/** What a failed WebSocket handshake's error says, with a hint where the text alone does not. */
export function joinFailureText(message: string): string {
  const status = /Unexpected server response: (\d+)/.exec(message)?.[1];
  if (status) return `${message} (not a Petrel proxy's /cluster endpoint?)`;
  if (/Parse Error|Invalid (HTTP|status)|Expected HTTP/i.test(message)) {
    return `${message} (not an HTTP server: a node's client port?)`;
  }
  return message;
}
