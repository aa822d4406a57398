/**
 * The report mark W: which results decided here (a run here, or a cancel before the proxy heard
 * of the job) the proxy may not have recorded yet. Such a result is sent again after a restart
 * until the proxy acknowledges it, and never expires before.
 *
 * Rather than a row per result, written with it and deleted at its acknowledgement, the file
 * holds one mark, and each ticket row says whether its result was decided here. The rule, true
 * at every commit:
 *
 *   every result decided here on disk whose ticket sorts below the stored W has been recorded
 *   by the proxy (acknowledged in `ACK.results`).
 *
 * So the results to send again are those decided here at or above W (a range of the primary
 * key, as tickets sort by creation time), and expiry keeps those. W may lag, since the proxy
 * takes a result it already has again without harm; it must never run ahead. Two writes keep it:
 *
 * - after acknowledgements, W is raised (deferred, riding with the next commit) to the smallest
 *   ticket still unacknowledged, or, when none is, to the floor of tickets issued from now on;
 * - a result decided here whose ticket sorts below W as stored (a long run, or one started
 *   under LOCAL_FALLBACK long after its ticket was issued) lowers W in its own transaction.
 *   Results end mostly in ticket order, so this statement runs only in that rare case.
 *
 * `ReportMark` is that bookkeeping in memory; `TicketStore` runs the statements it asks for.
 */
export class ReportMark {
  private readonly unacked = new Set<string>();
  /** The smallest of `unacked`, when known (`stale`: to be found again). */
  private least: string | undefined;
  private stale = false;

  /**
   * @param stored W as the file holds it.
   * @param unacked results decided here the proxy may not have recorded (those at or above W).
   */
  constructor(
    private stored: string,
    unacked: Iterable<string> = [],
  ) {
    for (const id of unacked) this.decided(id);
  }

  /** W as the statements run so far left it in the file. */
  get mark(): string {
    return this.stored;
  }

  /** How many results decided here wait for the proxy to record them. */
  get size(): number {
    return this.unacked.size;
  }

  /** A result decided here is on its way to disk; the proxy has not recorded it yet. */
  decided(id: string): void {
    this.unacked.add(id);
    if (!this.stale && (this.least === undefined || id < this.least)) this.least = id;
  }

  /** The proxy recorded the result of `id` (or it was never written); true if it waited. */
  acked(id: string): boolean {
    if (!this.unacked.delete(id)) return false;
    if (id === this.least) this.stale = true;
    return true;
  }

  /**
   * The result of `id` is being written: true when it must lower W to `id` in the same
   * transaction (it sorts below W and the proxy has not recorded it yet).
   */
  lowers(id: string): boolean {
    if (id >= this.stored || !this.unacked.has(id)) return false;
    this.stored = id;
    return true;
  }

  /**
   * The W to store now: the smallest unacknowledged ticket, or `floor` (below every ticket
   * issued from now on) when none is; undefined when the file holds it already.
   */
  next(floor: string): string | undefined {
    const w = this.smallest() ?? floor;
    if (w === this.stored) return undefined;
    this.stored = w;
    return w;
  }

  /** A transaction was rolled back: the file holds `stored` again. */
  reset(stored: string): void {
    this.stored = stored;
  }

  private smallest(): string | undefined {
    if (this.stale) {
      this.least = undefined;
      for (const id of this.unacked)
        if (this.least === undefined || id < this.least) this.least = id;
      this.stale = false;
    }
    return this.least;
  }
}
