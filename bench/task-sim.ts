import { Heap, type HeapItem } from '../shared/heap.js';
import { seededRandom } from './workload.js';
import type { JobSpec } from '../shared/job.js';
import { Dispatcher, type Host, type Queued } from '../proxy/dispatcher.js';
import { capsOf } from '../proxy/placement.js';
import { createPolicy, type PolicyName } from '../proxy/policies.js';
import { idealResponseTimes } from './ideal-schedule.js';

/**
 * The seeds' experiment in simulated time: jobs of many tasks arrive at a cluster of nodes;
 * the proxy's own dispatcher and policies (the production code) place every task, nodes run
 * them in their slots (extra tasks wait in the node's FIFO queue, as dispatched), and each
 * frame between proxy and node takes `latencyMs`. A job's response time runs from its
 * arrival to the end of its last task; the ideal is one FIFO queue over all slots with no
 * overhead at all.
 */

export interface SimJob {
  readonly arrival: number;
  readonly durations: readonly number[];
  readonly tenant?: string;
  readonly labels?: readonly string[];
}

export interface SimOptions {
  readonly nodes: number;
  readonly slots: number;
  readonly policy: PolicyName;
  /** > 0: the seed's periodic dispatch every this many ms. */
  readonly periodMs?: number;
  /** Tasks per period in periodic mode. */
  readonly perPeriod?: number;
  readonly prefetch?: number;
  readonly latencyMs?: number;
  /** Labels of node i (constraints scenario). */
  readonly nodeLabels?: (i: number) => string[];
  readonly weights?: ReadonlyMap<string, number>;
  readonly seed?: number;
}

export interface SimResult {
  /** Job response times, in the order of the jobs. */
  readonly response: Float64Array;
  /** CPU time spent in the dispatcher (ms), and the tasks it placed. */
  readonly dispatchMs: number;
  readonly placed: number;
}

interface Task extends Queued {
  readonly job: number;
  readonly duration: number;
}

interface SimNode extends Host {
  slots: number;
  free: number;
  readonly waiting: Task[];
}

interface Event extends HeapItem {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

/** Runs the workload through the dispatcher and returns every job's response time. */
export function simulate(jobs: readonly SimJob[], o: SimOptions): SimResult {
  const latency = o.latencyMs ?? 0.5;
  const rand = seededRandom(o.seed ?? 1);
  const events = new Heap<Event>((a, b) => (a.at !== b.at ? a.at < b.at : a.seq < b.seq));
  let now = 0;
  let seq = 0;
  const at = (t: number, run: () => void) => events.push({ at: t, seq: seq++, run, heapIndex: -1 });
  const periodic = (o.periodMs ?? 0) > 0;
  const d = new Dispatcher<Task, SimNode>(() => createPolicy(o.policy, rand), {
    prefetch: o.prefetch ?? 1,
    periodic,
    weights: o.weights,
  });
  const nodes: SimNode[] = Array.from({ length: o.nodes }, (_, i) => ({
    id: `n${i}`,
    slots: o.slots,
    free: o.slots,
    outstanding: 0,
    waiting: [],
  }));
  for (const [i, n] of nodes.entries()) {
    if (o.nodeLabels) d.setCaps(n, capsOf({ labels: o.nodeLabels(i) }));
    d.refresh(n, true);
  }
  const left = jobs.map((j) => j.durations.length);
  const response = new Float64Array(jobs.length);
  let dispatchMs = 0;
  let placed = 0;

  const start = (n: SimNode, t: Task) => {
    n.free--;
    at(now + t.duration, () => {
      n.free++;
      const next = n.waiting.shift();
      if (next) start(n, next);
      at(now + latency, () => done(n, t)); // the result reaches the proxy
    });
  };
  const done = (n: SimNode, t: Task) => {
    n.outstanding--;
    d.release(t, n);
    d.refresh(n, true);
    if (--(left[t.job] as number) === 0) {
      response[t.job] = now - (jobs[t.job] as SimJob).arrival;
    }
    if (!periodic) dispatch(Infinity);
  };
  const place = (t: Task, n: SimNode) => {
    n.outstanding++;
    d.hold(t, n);
    d.refresh(n, true);
    placed++;
    at(now + latency, () => (n.free > 0 ? start(n, t) : n.waiting.push(t)));
  };
  const dispatch = (budget: number) => {
    const t0 = performance.now();
    d.run(budget, place);
    dispatchMs += performance.now() - t0;
  };

  let taskSeq = 0;
  for (const [i, j] of jobs.entries()) {
    at(j.arrival + latency, () => {
      const spec: Pick<JobSpec, 'tenant' | 'constraints'> & { priority: number } = {
        priority: 0,
      };
      if (j.tenant) spec.tenant = j.tenant;
      if (j.labels) spec.constraints = { labels: [...j.labels] };
      for (const duration of j.durations) {
        d.enqueue({ job: i, duration, spec, seq: taskSeq++, batch: `j${i}`, heapIndex: -1 });
      }
      if (!periodic) dispatch(Infinity);
    });
  }
  if (periodic) {
    const tick = () => {
      dispatch(o.perPeriod ?? Infinity);
      if (left.some((l) => l > 0)) at(now + (o.periodMs as number), tick);
    };
    at(o.periodMs as number, tick);
  }
  for (let e = events.pop(); e; e = events.pop()) {
    now = e.at;
    e.run();
  }
  return { response, dispatchMs, placed };
}

/** The ideal schedule's job response times: FIFO over all slots, no overhead. */
export function idealJobResponse(jobs: readonly SimJob[], slots: number): Float64Array {
  const tasks = jobs.flatMap((j) =>
    j.durations.map((duration) => ({ arrival: j.arrival, duration })),
  );
  const perTask = idealResponseTimes(tasks, slots);
  const out = new Float64Array(jobs.length);
  let k = 0;
  for (const [i, j] of jobs.entries()) {
    let worst = 0;
    for (let x = 0; x < j.durations.length; x++) worst = Math.max(worst, perTask[k++] as number);
    out[i] = worst;
  }
  return out;
}

export interface WorkloadOptions {
  readonly jobs: number;
  /** Slots of the whole cluster. */
  readonly slots: number;
  /** Offered load: task work arriving per unit of time over the cluster's slots. */
  readonly load: number;
  readonly minTasks?: number;
  readonly maxTasks?: number;
  readonly seed?: number;
}

/** Mean task run time of the workload, in ms. */
export const MEAN_TASK_MS = 100;

/**
 * Jobs of 10-100 tasks arriving as a Poisson process; task run times are heterogeneous: 80%
 * short (exponential, mean 50 ms), 20% long (exponential, mean 300 ms), 100 ms on average.
 */
export function workload(o: WorkloadOptions): SimJob[] {
  const rand = seededRandom(o.seed ?? 7);
  const exp = (mean: number) => -mean * Math.log(1 - rand());
  const lo = o.minTasks ?? 10;
  const hi = o.maxTasks ?? 100;
  const meanTasks = (lo + hi) / 2;
  const jobsPerMs = (o.load * o.slots) / (meanTasks * MEAN_TASK_MS);
  const jobs: SimJob[] = [];
  let t = 0;
  for (let i = 0; i < o.jobs; i++) {
    t += exp(1 / jobsPerMs);
    const m = lo + Math.floor(rand() * (hi - lo + 1));
    const durations = Array.from({ length: m }, () => (rand() < 0.8 ? exp(50) : exp(300)));
    jobs.push({ arrival: t, durations });
  }
  return jobs;
}
