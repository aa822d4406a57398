/**
 * A job's `concurrency`: at most `limit` of its tasks in play at once. A task in play holds a
 * permit from the moment it may be queued for a node until its run ends for good (its result
 * recorded) or for a while (a retry's backoff); a speculative copy takes a permit of its own.
 * The other tasks wait in line, in the order they asked, and get the permits freed. Plain
 * logic: no sockets, timers or SQL.
 */

/** What the gate needs of a task: whether a speculative copy of it runs beside it. */
export interface Gated {
  readonly copy?: string;
}

export class ConcurrencyGate<T extends Gated> {
  /** Tasks holding a permit: queued for a node, held by one, or running. */
  private readonly held = new Set<T>();
  /** Tasks waiting for a permit (a Set keeps the order they came in). */
  private readonly line = new Set<T>();
  /** Held tasks that also run a speculative copy (pruned once the copy is gone). */
  private readonly copies = new Set<T>();
  private closed = false;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`bad concurrency ${limit}`);
  }

  /** Permits in use: held tasks and their copies. */
  get used(): number {
    for (const t of this.copies) if (t.copy === undefined) this.copies.delete(t);
    return this.held.size + this.copies.size;
  }

  /** Tasks waiting in line. */
  get waiting(): number {
    return this.line.size;
  }

  /** Whether `task` holds a permit. */
  holds(task: T): boolean {
    return this.held.has(task);
  }

  /** Whether `task` waits in line. */
  waits(task: T): boolean {
    return this.line.has(task);
  }

  /**
   * `task` may be queued for a node: true when it holds a permit (already, or given now);
   * otherwise it waits in line (once, however often it asks) and false.
   */
  ask(task: T): boolean {
    if (this.held.has(task)) return true;
    const next = this.first();
    if (!this.closed && this.used < this.limit && (next === undefined || next === task)) {
      this.line.delete(task);
      this.held.add(task);
      return true;
    }
    if (!this.closed) this.line.add(task);
    return false;
  }

  /**
   * `task` is held by a node already (recovered after a restart): it keeps its permit even
   * beyond the limit, which then admits no one until enough of them end.
   */
  force(task: T): void {
    this.line.delete(task);
    this.held.add(task);
  }

  /**
   * `task` no longer needs its permit (its run ended, or waits out a backoff) or its place in
   * line (cancelled). Returns the tasks given the permits freed, in line order.
   */
  free(task: T): T[] {
    this.line.delete(task);
    this.copies.delete(task);
    if (this.held.delete(task)) return this.pump();
    return [];
  }

  /** Gives free permits to the tasks first in line; returns them. */
  pump(): T[] {
    const given: T[] = [];
    if (this.closed) return given;
    let room = this.limit - this.used;
    for (const t of this.line) {
      if (room <= 0) break;
      this.line.delete(t);
      this.held.add(t);
      given.push(t);
      room--;
    }
    return given;
  }

  /** Whether a speculative copy of `task` may start: it holds a permit and one is free. */
  mayCopy(task: T): boolean {
    return this.held.has(task) && !this.copies.has(task) && this.used < this.limit;
  }

  /** A copy of `task` started: it takes a permit until `task.copy` is cleared. */
  copied(task: T): void {
    if (this.held.has(task)) this.copies.add(task);
  }

  /** The job was cancelled: no one waits any more, and no permit is given again. */
  close(): void {
    this.closed = true;
    this.line.clear();
  }

  /** What a queued job or task says while tasks wait for a permit. */
  reason(): string | undefined {
    return this.line.size > 0 ? `concurrency ${this.limit} reached` : undefined;
  }

  private first(): T | undefined {
    for (const t of this.line) return t;
    return undefined;
  }
}
