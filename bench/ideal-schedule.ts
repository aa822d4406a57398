/**
 * The ideal schedule the balance scenario is judged against: one FIFO queue over all slots
 * of the cluster, zero overhead (no network, no dispatch delay, no commit). Each job, in
 * arrival order, starts on the slot that frees first, as soon as both it and the slot are
 * there. No real scheduler can beat this for FIFO service, so it is the floor.
 */

export interface IdealJob {
  /** Arrival time in ms. */
  readonly arrival: number;
  /** Run time in ms. */
  readonly duration: number;
}

/** A binary min-heap of numbers: the slots' next free times. */
class MinHeap {
  private readonly a: number[] = [];

  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as number) <= v) break;
      a[i] = a[parent] as number;
      i = parent;
    }
    a[i] = v;
  }

  /** Removes and returns the smallest value; the heap must not be empty. */
  pop(): number {
    const a = this.a;
    const top = a[0] as number;
    const last = a.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && (a[r] as number) < (a[l] as number) ? r : l;
        if ((a[c] as number) >= last) break;
        a[i] = a[c] as number;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/**
 * Response time (finish − arrival) of every job under the ideal schedule, in the order of
 * `jobs`. Jobs need not be sorted; ties in arrival keep their input order.
 */
export function idealResponseTimes(jobs: readonly IdealJob[], slots: number): Float64Array {
  if (!Number.isInteger(slots) || slots < 1)
    throw new RangeError('slots must be a positive integer');
  const order = jobs
    .map((_, i) => i)
    .sort((x, y) => {
      const d = (jobs[x] as IdealJob).arrival - (jobs[y] as IdealJob).arrival;
      return d !== 0 ? d : x - y;
    });
  const free = new MinHeap();
  for (let s = 0; s < slots; s++) free.push(-Infinity);
  const out = new Float64Array(jobs.length);
  for (const i of order) {
    const job = jobs[i] as IdealJob;
    const start = Math.max(job.arrival, free.pop());
    const finish = start + job.duration;
    free.push(finish);
    out[i] = finish - job.arrival;
  }
  return out;
}
