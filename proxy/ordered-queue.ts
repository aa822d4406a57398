import { Heap, type HeapItem } from '../shared/heap.js';

/** `heapIndex` of an item waiting in the in-order run (a heap's own items have their index). */
const IN_RUN = -2;
/** Taken items at the front of the run are dropped once this many have piled up. */
const COMPACT_AT = 1024;

/**
 * A priority queue ordered by `before(a, b)` for items that mostly arrive in order (jobs of
 * equal priority, by arrival): those that do are kept in a plain list, in O(1) each, and only
 * one that would go ahead of the newest waits in a heap. The next item is the first of the
 * two. Same operations and results as `Heap`; removing an item of the list costs a scan
 * (a cancelled job), taking and adding cost O(1) in the common case.
 */
export class OrderedQueue<T extends HeapItem> {
  /** Items in order from `head` on. */
  private run: T[] = [];
  private head = 0;
  private readonly heap: Heap<T>;

  constructor(private readonly before: (a: T, b: T) => boolean) {
    this.heap = new Heap(before);
  }

  get size(): number {
    return this.run.length - this.head + this.heap.size;
  }

  peek(): T | undefined {
    const a = this.run[this.head];
    const b = this.heap.peek();
    if (!a || !b) return a ?? b;
    return this.before(b, a) ? b : a;
  }

  push(item: T): void {
    const last = this.run[this.run.length - 1];
    if (this.head < this.run.length && last && this.before(item, last)) {
      this.heap.push(item);
      return;
    }
    item.heapIndex = IN_RUN;
    this.run.push(item);
  }

  pop(): T | undefined {
    const a = this.run[this.head];
    const b = this.heap.peek();
    if (b && (!a || this.before(b, a))) return this.heap.pop();
    if (!a) return undefined;
    this.run[this.head] = undefined as unknown as T;
    this.head++;
    a.heapIndex = -1;
    this.compact();
    return a;
  }

  /** Removes `item` if it waits here; returns whether it did. */
  remove(item: T): boolean {
    if (item.heapIndex !== IN_RUN) return this.heap.remove(item);
    const i = this.run.indexOf(item, this.head);
    if (i < 0) return false;
    this.run.splice(i, 1);
    item.heapIndex = -1;
    this.compact();
    return true;
  }

  private compact(): void {
    if (this.head === this.run.length) {
      this.run = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.run.length) {
      this.run = this.run.slice(this.head);
      this.head = 0;
    }
  }
}
