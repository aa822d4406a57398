import type { JobSpec } from '../shared/job.js';
import { Heap, type HeapItem } from '../shared/heap.js';
import { runJob, type RunnerOptions, type RunOutcome } from './job-runner.js';
import type { RunLog } from './run-logs.js';

interface Task extends HeapItem {
  id: string;
  spec: JobSpec;
  seq: number;
  controller?: AbortController;
  startedAt?: number;
  /** Set when the proxy took the job back: the run ends without a result. */
  dropped?: boolean;
}

export interface ExecutorEvents {
  started(id: string, at: number): void;
  /** Where the whole output of the run of `id` goes (the node's log on disk). */
  log?(id: string): RunLog | undefined;
  finished(id: string, outcome: RunOutcome, startedAt: number, finishedAt: number): void;
}

/**
 * Runs at most `slots` jobs at once, the rest waiting by priority then arrival. It knows
 * nothing of storage or sockets: the node is told through `events`.
 */
export class Executor {
  private readonly queue = new Heap<Task>((a, b) =>
    a.spec.priority !== b.spec.priority ? a.spec.priority > b.spec.priority : a.seq < b.seq,
  );
  private readonly tasks = new Map<string, Task>();
  private readonly runningTasks = new Set<Task>();
  private seq = 0;
  private paused = false;

  constructor(
    readonly slots: number,
    private readonly runner: RunnerOptions,
    private readonly events: ExecutorEvents,
  ) {}

  get queued(): number {
    return this.queue.size;
  }
  get running(): number {
    return this.runningTasks.size;
  }
  get free(): number {
    return this.slots - this.runningTasks.size;
  }

  has(id: string): boolean {
    return this.tasks.has(id);
  }

  /** Adds a job; a job already here is ignored (dispatch is idempotent). */
  enqueue(id: string, spec: JobSpec): void {
    if (this.tasks.has(id)) return;
    const task: Task = { id, spec, seq: this.seq++, heapIndex: -1 };
    this.tasks.set(id, task);
    this.queue.push(task);
    this.pump();
  }

  /**
   * Stops a job: a queued one is removed (returns 'queued'), a running one is aborted and
   * reports a cancelled outcome (returns 'running'). With `drop`, no outcome is reported.
   */
  cancel(id: string, drop = false): 'queued' | 'running' | 'unknown' {
    const task = this.tasks.get(id);
    if (!task) return 'unknown';
    if (this.queue.remove(task)) {
      this.tasks.delete(id);
      return 'queued';
    }
    task.dropped = drop;
    task.controller?.abort();
    return 'running';
  }

  /** No new job starts after this; returns the ids that were waiting (now removed). */
  pause(): string[] {
    this.paused = true;
    const ids: string[] = [];
    for (let t = this.queue.pop(); t; t = this.queue.pop()) {
      this.tasks.delete(t.id);
      ids.push(t.id);
    }
    return ids;
  }

  /** Aborts every running job without reporting outcomes; returns their ids. */
  abortRunning(): string[] {
    const ids: string[] = [];
    for (const t of this.runningTasks) {
      t.dropped = true;
      t.controller?.abort();
      ids.push(t.id);
    }
    return ids;
  }

  /** Resolves when nothing is running. */
  async idle(): Promise<void> {
    while (this.runningTasks.size > 0) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
      });
    }
  }
  private onIdle: (() => void) | undefined;

  private pump(): void {
    while (!this.paused && this.runningTasks.size < this.slots) {
      const task = this.queue.pop();
      if (!task) return;
      this.start(task);
    }
  }

  private start(task: Task): void {
    const controller = new AbortController();
    task.controller = controller;
    const startedAt = Date.now();
    task.startedAt = startedAt;
    this.runningTasks.add(task);
    this.events.started(task.id, startedAt);
    const log = this.events.log?.(task.id);
    const sink = log && ((chunk: Buffer) => log.write(chunk));
    void runJob(task.spec, this.runner, controller.signal, sink).then((outcome) => {
      // the log is complete before anyone hears the run ended
      log?.end();
      this.runningTasks.delete(task);
      this.tasks.delete(task.id);
      if (!task.dropped) this.events.finished(task.id, outcome, startedAt, Date.now());
      if (this.runningTasks.size === 0 && this.onIdle) {
        const wake = this.onIdle;
        this.onIdle = undefined;
        wake();
      }
      this.pump();
    });
  }
}
