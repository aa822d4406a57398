/**
 * A pause of all dispatch: a proxy taking over a group first lets the nodes say what they
 * hold. When the pause ends, `wake` runs once the clock that `held` reads has passed its end.
 * A timer alone is not enough: it counts from the event loop's cached time, which lags the
 * clock by however long the current turn has run (a takeover reads its whole file in one), so
 * it can fire while `held()` is still true, and a wake refused then would never come again.
 */
export class DispatchHold {
  private until = 0;
  private timer: { cancel(): void } | undefined;

  constructor(
    private readonly wake: () => void,
    private readonly clock: () => number = Date.now,
    private readonly after: (fn: () => void, ms: number) => { cancel(): void } = (fn, ms) => {
      const t = setTimeout(fn, ms).unref();
      return { cancel: () => clearTimeout(t) };
    },
  ) {}

  /** Pauses dispatch for `ms` from `now`. */
  holdFor(ms: number, now = this.clock()): void {
    this.until = now + ms;
    this.arm();
  }

  /** True while dispatch is paused. */
  held(now = this.clock()): boolean {
    return now < this.until;
  }

  /** The pause's term is over: no wake comes any more. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    this.close();
    const left = this.until - this.clock();
    if (left > 0) this.timer = this.after(() => this.arm(), left);
    else this.wake();
  }
}
