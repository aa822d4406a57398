import { getCluster } from './http-json.js';

/**
 * Samples every node's queued + running from the proxy's `/api/cluster` at a fixed period,
 * for the balance scenario. One request at a time: if an answer takes longer than the
 * period, the next sample is taken when it comes (and the achieved period is reported).
 */

export interface LoadSamples {
  /** max − min of queued + running over the nodes, per sample. */
  readonly spreads: number[];
  /** The same over the proxy's own count of jobs given to each node (`outstanding`), if shown. */
  readonly outstandingSpreads: number[];
  /** Per sample, queued + running of each node (in the order of `nodeIds`). */
  readonly loads: number[][];
  readonly nodeIds: string[];
  /**
   * Samples in which a job waited in one node's queue while another node had a free slot:
   * work a perfectly work-conserving scheduler would have been running.
   */
  readonly unconserved: number;
  /**
   * Samples in which a job waited in the proxy's queue while a node had a free slot: the
   * dispatch had not caught up with a slot freed (or the job fits no node with room).
   */
  readonly queuedWhileFree: number;
  readonly meanPeriodMs: number;
  readonly failures: number;
}

export async function sampleLoads(
  proxyPort: number,
  periodMs: number,
  durationMs: number,
): Promise<LoadSamples> {
  const spreads: number[] = [];
  const outstandingSpreads: number[] = [];
  const loads: number[][] = [];
  let nodeIds: string[] = [];
  let failures = 0;
  let unconserved = 0;
  let queuedWhileFree = 0;
  const start = performance.now();
  const end = start + durationMs;
  let next = start;
  let first = NaN;
  let last = NaN;
  while (performance.now() < end && spreads.length + failures < 1_000_000) {
    try {
      const c = await getCluster(proxyPort, 1000);
      const nodes = c.nodes.filter((n) => n.connected).sort((x, y) => x.id.localeCompare(y.id));
      if (nodeIds.length === 0) nodeIds = nodes.map((n) => n.id);
      const sample = nodes.map((n) => n.queued + n.running);
      loads.push(sample);
      const free = nodes.some((n) => n.running < n.slots);
      if (free && nodes.some((n) => n.queued > 0)) unconserved++;
      if (free && (c.queue?.queued ?? 0) > 0) queuedWhileFree++;
      spreads.push(spread(sample));
      if (nodes.every((n) => typeof n.outstanding === 'number')) {
        outstandingSpreads.push(spread(nodes.map((n) => n.outstanding ?? 0)));
      }
      const t = performance.now();
      if (Number.isNaN(first)) first = t;
      last = t;
    } catch {
      failures++;
    }
    next += periodMs;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else next = performance.now();
  }
  return {
    spreads,
    outstandingSpreads,
    loads,
    nodeIds,
    unconserved,
    queuedWhileFree,
    meanPeriodMs: spreads.length > 1 ? (last - first) / (spreads.length - 1) : NaN,
    failures,
  };
}

function spread(values: readonly number[]): number {
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
}
