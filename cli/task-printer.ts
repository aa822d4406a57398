import type { JobResult } from '../client/index.js';

type Task = NonNullable<JobResult['tasks']>[number];

const finished = (t: Task) => t.state === 'done' || t.state === 'failed' || t.state === 'cancelled';

/**
 * Decides which tasks' outputs to print next, from successive views of a job: each finished
 * task once, as soon as it finished, or, with `keepOrder`, in input order (a task waits for
 * those before it).
 */
export class TaskPrinter {
  private readonly printed = new Set<number>();
  private next = 0;

  constructor(private readonly keepOrder: boolean) {}

  take(tasks: readonly Task[]): Task[] {
    if (!this.keepOrder) {
      const fresh = tasks.filter((t) => finished(t) && !this.printed.has(t.index));
      for (const t of fresh) this.printed.add(t.index);
      return fresh;
    }
    const byIndex = new Map(tasks.map((t) => [t.index, t]));
    const out: Task[] = [];
    for (let t = byIndex.get(this.next); t && finished(t); t = byIndex.get(this.next)) {
      out.push(t);
      this.printed.add(t.index);
      this.next++;
    }
    return out;
  }
}
