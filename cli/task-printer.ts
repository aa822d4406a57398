import type { JobResult } from '../client/index.js';

export type Task = NonNullable<JobResult['tasks']>[number];

const finished = (t: Task) => t.state === 'done' || t.state === 'failed' || t.state === 'cancelled';

/**
 * Decides which tasks' outputs to print next: each finished task once, as soon as it
 * finished, or, with `keepOrder`, in input order (a task waits for those before it).
 */
export class TaskPrinter {
  private readonly seen = new Set<number>();
  private readonly held = new Map<number, Task>();
  private next = 0;

  constructor(private readonly keepOrder: boolean) {}

  /** From a whole view of the job's tasks: those to print now. */
  take(tasks: readonly Task[]): Task[] {
    return tasks.filter((t) => finished(t) && !this.seen.has(t.index)).flatMap((t) => this.add(t));
  }

  /** One task has finished: those to print now. */
  add(task: Task): Task[] {
    if (this.seen.has(task.index)) return [];
    this.seen.add(task.index);
    if (!this.keepOrder) return [task];
    this.held.set(task.index, task);
    const ready: Task[] = [];
    for (let t = this.held.get(this.next); t; t = this.held.get(this.next)) {
      ready.push(t);
      this.held.delete(this.next++);
    }
    return ready;
  }
}

/** The markers where bytes were dropped: the node's (JOB_OUTPUT_LIMIT) and the reply's. */
const DROPPED = /\n\[\.\.\. \d+ bytes dropped \.\.\.\]\n|\[…\d+ dropped…\]/;

/**
 * Whether a task's `output` in the job's result may not be the whole of what it printed: it
 * was clipped on its node or to fit the reply (LOGS then reads all of it).
 */
export function isClipped(t: Task): boolean {
  return DROPPED.test(t.output ?? '') || (t.error ?? '').startsWith('output clipped');
}
