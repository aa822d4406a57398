/**
 * What `npm start` does when one of its processes ends without being asked to: restart it
 * (a node or the proxy killed at any moment rejoins, as Petrel promises), unless it could not
 * start at all (bad configuration, a port taken: restarting would fail the same way) or it
 * keeps dying (then the cluster stops rather than loop).
 */

/** How a process ended: an exit code, or the signal that killed it. */
export interface Ending {
  code: number | null;
  signal: string | null;
}

export interface RestartLimits {
  /** A non-zero exit code within this long of starting is a failure to start. */
  startGraceMs: number;
  /** This many exits within `windowMs` stop the cluster. */
  maxExits: number;
  windowMs: number;
  /** The first restart waits this long; each further one within the window twice as long. */
  delayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_LIMITS: RestartLimits = {
  startGraceMs: 1000,
  maxExits: 5,
  windowMs: 60_000,
  delayMs: 1000,
  maxDelayMs: 8000,
};

export type Decision =
  { restart: true; delayMs: number; message: string } | { restart: false; message: string };

/** `signal SIGKILL` or `exit code 1`. */
export const describeEnding = (e: Ending) =>
  e.signal !== null ? `signal ${e.signal}` : `exit code ${e.code ?? 'unknown'}`;

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The restarts of one process (the proxy or one node). */
export class RestartPolicy {
  private readonly exits: number[] = [];

  constructor(
    private readonly name: string,
    private readonly limits: RestartLimits = DEFAULT_LIMITS,
  ) {}

  /**
   * The process ended on its own after running `ranMs`; `ready` says whether it had said it
   * was listening. `now` is the time of the ending (ms).
   */
  decide(ending: Ending, ranMs: number, ready: boolean, now: number): Decision {
    const how = describeEnding(ending);
    if (ending.code !== null && ending.code !== 0 && (!ready || ranMs < this.limits.startGraceMs)) {
      return { restart: false, message: `${this.name} could not start (${how})` };
    }
    this.exits.push(now);
    while ((this.exits[0] as number) <= now - this.limits.windowMs) this.exits.shift();
    const recent = this.exits.length;
    if (recent >= this.limits.maxExits) {
      return {
        restart: false,
        message: `${this.name} exited ${recent} times within ${seconds(this.limits.windowMs)} (last: ${how}); not restarting it again`,
      };
    }
    const delayMs = Math.min(this.limits.delayMs * 2 ** (recent - 1), this.limits.maxDelayMs);
    return {
      restart: true,
      delayMs,
      message: `${this.name} exited (${how}); restarting it in ${seconds(delayMs)}`,
    };
  }
}
