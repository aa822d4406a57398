import { isBuiltinType, type JobSpec } from '../shared/job.js';
import { Heap, type HeapItem } from '../shared/heap.js';
import type { OutputStream } from '../shared/run-log-format.js';
import { instantOutcome, runJob, type RunnerOptions, type RunOutcome } from './job-runner.js';
import type { RunLog } from './run-logs.js';
import { WorkerPool } from './worker-pool.js';

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
  /**
   * A custom-type job left without a result: its worker disconnected or went silent (`ran`),
   * or no worker of its type is attached here any more. It must be placed again.
   */
  lost(id: string, ran: boolean, why: string): void;
  /** The worker types served here, or their capacity, changed. */
  typesChanged(): void;
}

/** Whether a job runs on a worker (a custom type) rather than in a slot. */
export function runsOnWorker(spec: JobSpec): boolean {
  return spec.type !== undefined && !isBuiltinType(spec.type);
}

/**
 * Runs at most `slots` jobs of the built-in types at once, the rest waiting by priority then
 * arrival; jobs of custom types go to the attached workers (`WorkerPool`), which have their
 * own capacity. It knows nothing of storage or sockets: the node is told through `events`.
 */
export class Executor {
  private readonly queue = new Heap<Task>((a, b) =>
    a.spec.priority !== b.spec.priority ? a.spec.priority > b.spec.priority : a.seq < b.seq,
  );
  private readonly tasks = new Map<string, Task>();
  private readonly runningTasks = new Set<Task>();
  private seq = 0;
  private paused = false;
  private readonly pool: WorkerPool;

  constructor(
    readonly slots: number,
    private readonly runner: RunnerOptions,
    private readonly events: ExecutorEvents,
  ) {
    this.pool = new WorkerPool(runner.outputLimit, {
      started: (id, at) => events.started(id, at),
      finished: (id, o, s, f, whole) => {
        const text = whole ?? o.output;
        if (o.state === 'done' && text !== '') {
          // what a worker sent is the run's whole output, for LOGS as for any run, though the
          // result keeps only its head and tail; a worker answers on one line, so no stderr
          const log = events.log?.(id);
          log?.write(Buffer.from(text), 'stdout');
          log?.end();
        }
        events.finished(id, o, s, f);
        this.wakeIfIdle();
      },
      lost: (id, ran, why) => {
        events.lost(id, ran, why);
        this.wakeIfIdle();
      },
      typesChanged: () => events.typesChanged(),
    });
  }

  /** Jobs waiting for a slot or a worker. */
  get queued(): number {
    return this.queue.size + this.pool.waitingCount;
  }
  /** Jobs running in a slot or held by a worker. */
  get running(): number {
    return this.runningTasks.size + this.pool.inFlight;
  }
  /** Free slots (for the built-in types). */
  get free(): number {
    return this.slots - this.runningTasks.size;
  }

  has(id: string): boolean {
    return this.tasks.has(id) || this.pool.has(id);
  }

  /** Whether this node can take `spec` now: a built-in type, or a type a worker serves here. */
  accepts(spec: JobSpec): boolean {
    return !runsOnWorker(spec) || this.pool.serves(spec.type as string);
  }

  /** The worker types served here, with their capacity. */
  workerTypes(): Array<{ type: string; capacity: number }> {
    return this.pool.types();
  }

  /** The worker pool, for the worker connections. */
  get workers(): WorkerPool {
    return this.pool;
  }

  /** Takes jobs back from workers silent past their timeoutMs (called on a timer). */
  expireLeases(now = Date.now()): void {
    this.pool.expire(now);
  }

  /**
   * Adds a job; a job already here is ignored (dispatch is idempotent). A custom-type job
   * nobody here serves is reported `lost` at once.
   */
  enqueue(id: string, spec: JobSpec, attempt = 1): void {
    if (this.has(id)) return;
    if (runsOnWorker(spec)) {
      if (this.paused || !this.pool.submit(id, spec, attempt)) {
        this.events.lost(id, false, `no worker for type ${spec.type}`);
      }
      return;
    }
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
    if (!task) return this.pool.cancel(id, drop);
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
    return [...ids, ...this.pool.takeWaiting()];
  }

  /** Aborts every running job without reporting outcomes; returns their ids. */
  abortRunning(): string[] {
    const ids: string[] = [];
    for (const t of this.runningTasks) {
      t.dropped = true;
      t.controller?.abort();
      ids.push(t.id);
    }
    return [...ids, ...this.pool.abortInFlight()];
  }

  /** Resolves when nothing is running. */
  async idle(): Promise<void> {
    while (this.running > 0) {
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
    const startedAt = Date.now();
    task.startedAt = startedAt;
    const instant = instantOutcome(task.spec, this.runner);
    if (instant) {
      // it ends now, inside this call: the slot is free again before `pump` looks at it, and
      // it has no log (its output is all in its result)
      this.tasks.delete(task.id);
      this.events.started(task.id, startedAt);
      this.events.finished(task.id, instant, startedAt, Date.now());
      return;
    }
    const controller = new AbortController();
    task.controller = controller;
    this.runningTasks.add(task);
    this.events.started(task.id, startedAt);
    const log = this.events.log?.(task.id);
    const sink = log && ((chunk: Buffer, stream: OutputStream) => log.write(chunk, stream));
    void runJob(task.spec, this.runner, controller.signal, sink).then((outcome) => {
      // the log is complete before anyone hears the run ended
      log?.end();
      this.runningTasks.delete(task);
      this.tasks.delete(task.id);
      if (!task.dropped) this.events.finished(task.id, outcome, startedAt, Date.now());
      this.wakeIfIdle();
      this.pump();
    });
  }

  private wakeIfIdle(): void {
    if (this.running === 0 && this.onIdle) {
      const wake = this.onIdle;
      this.onIdle = undefined;
      wake();
    }
  }
}
