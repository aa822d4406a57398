import { WireError } from '../shared/errors.js';

/**
 * How long a node may leave the oldest request on a connection without a byte of its reply
 * (beyond what the request itself asks the node to hold it, as `WAIT <ticket> <ms>` does)
 * before the connection counts as hung. A node answers STATUS, RESULT or CANCEL of another
 * node's ticket within its 2 s wait for the proxy link, and a SUBMIT once its commit reached
 * the disk (well under a second, a few on a slow disk under load); 15 s is several times
 * the slowest of these, yet short enough that a frozen node (SIGSTOP, a stuck event loop:
 * its kernel still ACKs, so TCP keepalive never fires) costs a call seconds, not for ever.
 */
export const DEFAULT_REPLY_TIMEOUT_MS = 15_000;

/** Why `ms` is not a reply timeout, or undefined when it is. */
export function replyTimeoutError(ms: unknown): WireError | undefined {
  return msError('replyTimeoutMs', ms, { min: 0, note: '0: never' });
}

/**
 * Why the option `name` is not a number of ms from `min` (or Infinity, when `infinite`), or
 * undefined when it is: a string or NaN would otherwise turn a deadline into never.
 */
export function msError(
  name: string,
  ms: unknown,
  opts: { min: number; infinite?: boolean; note?: string },
): WireError | undefined {
  const finite = Number.isFinite(ms) || (opts.infinite === true && ms === Infinity);
  if (typeof ms === 'number' && finite && ms >= opts.min) return undefined;
  const note = opts.note ? ` (${opts.note})` : '';
  const text = String(ms).slice(0, 40);
  return new WireError('BAD_REQUEST', `${name} is ms from ${opts.min}${note}: ${text}`);
}

/** The longest a Node.js timer holds; a longer delay would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Milliseconds left before the oldest request counts as hung (0 or less: it does). `since` is
 * when the clock last started: a byte received, or the request becoming the oldest.
 */
export function replyTimeLeft(
  now: number,
  since: number,
  holdMs: number,
  replyTimeoutMs: number,
): number {
  return since + holdMs + replyTimeoutMs - now;
}

/**
 * The reply deadline of one connection: one timer at most, re-armed lazily (a byte received
 * only moves the start of the clock, so a busy connection sets no timer per chunk). `headHold`
 * says how long the oldest request in flight may legitimately be held (undefined: none in
 * flight; Infinity: no deadline, a followed job's output may pause for as long as the job
 * likes); `onHung` gets the silence allowed, once it has passed.
 */
export class ReplyDeadline {
  private timer: NodeJS.Timeout | undefined;
  private since = Date.now();

  constructor(
    private readonly timeoutMs: number,
    private readonly headHold: () => number | undefined,
    private readonly onHung: (allowedMs: number) => void,
  ) {}

  /** A byte arrived, or a request became the oldest in flight: the clock starts again. */
  touch(now = Date.now()): void {
    this.since = now;
  }

  /** Requests are in flight: makes sure a check is due (nothing when one already is). */
  arm(): void {
    if (this.timer === undefined && this.timeoutMs > 0) this.check();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    this.timer = undefined;
    const hold = this.headHold();
    if (hold === undefined || hold === Infinity) return; // re-armed when the next one leads
    const left = replyTimeLeft(Date.now(), this.since, hold, this.timeoutMs);
    if (left <= 0) return this.onHung(hold + this.timeoutMs);
    this.timer = setTimeout(() => this.check(), Math.min(left, MAX_TIMER_MS));
    this.timer.unref();
  }
}
