import type { TerminalState } from '../shared/job.js';

/**
 * Jobs blocked until other jobs are done (`after`). Plain bookkeeping of who waits for whom:
 * when a ticket ends, `settle` says which waiting jobs it released (their last dependency is
 * done) and which it doomed (a dependency failed or was cancelled).
 */
export class Dependencies<J extends { readonly id: string }> {
  /** ticket → the jobs waiting for it */
  private readonly waiters = new Map<string, Set<J>>();
  /** job → the tickets it still waits for */
  private readonly pending = new Map<J, Set<string>>();

  get blocked(): number {
    return this.pending.size;
  }

  isBlocked(job: J): boolean {
    return this.pending.has(job);
  }

  /** Blocks `job` until each of `tickets` is done; no tickets: nothing to wait for. */
  block(job: J, tickets: readonly string[]): void {
    if (tickets.length === 0) return;
    this.pending.set(job, new Set(tickets));
    for (const t of tickets) {
      let set = this.waiters.get(t);
      if (!set) this.waiters.set(t, (set = new Set()));
      set.add(job);
    }
  }

  /** Forgets `job` (it was cancelled or ended otherwise). */
  forget(job: J): void {
    const tickets = this.pending.get(job);
    if (!tickets) return;
    this.pending.delete(job);
    for (const t of tickets) {
      const set = this.waiters.get(t);
      set?.delete(job);
      if (set?.size === 0) this.waiters.delete(t);
    }
  }

  /** Ticket `id` ended in `state`: the jobs that may now run, and those that never will. */
  settle(id: string, state: TerminalState): { released: J[]; doomed: J[] } {
    const released: J[] = [];
    const doomed: J[] = [];
    const set = this.waiters.get(id);
    if (!set) return { released, doomed };
    this.waiters.delete(id);
    for (const job of set) {
      if (state !== 'done') {
        this.forget(job);
        doomed.push(job);
        continue;
      }
      const left = this.pending.get(job);
      left?.delete(id);
      if (left?.size === 0) {
        this.pending.delete(job);
        released.push(job);
      }
    }
    return { released, doomed };
  }
}
