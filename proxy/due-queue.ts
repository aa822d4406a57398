import { Heap, type HeapItem } from '../shared/heap.js';

interface Entry<T> extends HeapItem {
  item: T;
  at: number;
}

/**
 * Things waiting for a time (a delayed job, a retry's backoff, a schedule's next firing),
 * earliest first. Plain logic: the caller owns the clock and the single timer, arming it for
 * `next()` and calling `takeDue(now)` when it fires.
 */
export class DueQueue<T> {
  private readonly heap = new Heap<Entry<T>>((a, b) => a.at < b.at);
  private readonly entries = new Map<T, Entry<T>>();

  get size(): number {
    return this.heap.size;
  }

  /** Adds `item` due at `at` (moves it, when it is already waiting). */
  add(item: T, at: number): void {
    const e = this.entries.get(item);
    if (e) {
      e.at = at;
      this.heap.update(e);
      return;
    }
    const entry: Entry<T> = { item, at, heapIndex: -1 };
    this.entries.set(item, entry);
    this.heap.push(entry);
  }

  /** Takes `item` out; returns whether it was waiting. */
  remove(item: T): boolean {
    const e = this.entries.get(item);
    if (!e) return false;
    this.entries.delete(item);
    return this.heap.remove(e);
  }

  has(item: T): boolean {
    return this.entries.has(item);
  }

  /** When the earliest item is due, or undefined when nothing waits. */
  next(): number | undefined {
    return this.heap.peek()?.at;
  }

  /** Takes every item due at or before `now`, earliest first. */
  takeDue(now: number): T[] {
    const due: T[] = [];
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      this.entries.delete(top.item);
      due.push(top.item);
    }
    return due;
  }
}
