import type { Logger } from '../shared/log.js';

/** How often a failure that keeps repeating is logged again, with how many times it did. */
export const REPEAT_LOG_MS = 10_000;

interface Failing {
  loggedAt: number;
  /** Failures since the last line, and since it started failing. */
  repeats: number;
  total: number;
}

/**
 * Warnings of the proxy's etcd retries. While etcd is away each retry fails (twice a second
 * or more), and one line with a stack per failure says nothing new: an operation's failures
 * are logged when they start, then at most once per `everyMs` with how many there were, and
 * once when it succeeds again. Lines carry the error's message only: the stack of a gRPC
 * deadline or of etcd3's open circuit breaker names no cause an operator can act on.
 */
export class EtcdWarnings {
  private readonly failing = new Map<string, Failing>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs = REPEAT_LOG_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** `what` (one key per retry loop) failed with `err`; `msg` says what happens now. */
  failed(what: string, err: unknown, msg: string, fields: Record<string, unknown> = {}): void {
    const at = this.now();
    const f = this.failing.get(what);
    if (f) {
      f.repeats++;
      f.total++;
      if (at - f.loggedAt < this.everyMs) return;
      const repeats = f.repeats;
      f.loggedAt = at;
      f.repeats = 0;
      this.log.warn({ ...fields, error: messageOf(err), repeats }, msg);
      return;
    }
    this.failing.set(what, { loggedAt: at, repeats: 0, total: 1 });
    this.log.warn({ ...fields, error: messageOf(err) }, msg);
  }

  /** `what` succeeded: if it had been failing, say so once with how many times it failed. */
  ok(what: string, msg: string): void {
    const f = this.failing.get(what);
    if (!f) return;
    this.failing.delete(what);
    this.log.info({ failures: f.total }, msg);
  }

  /** Whether `what` is failing (its last attempt did not succeed). */
  isFailing(what: string): boolean {
    return this.failing.has(what);
  }
}

/** An error's message, on one line: what a log line keeps of it. */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
