import type { OpenLoopResult } from './load.js';
import { mean } from './stats.js';
import type { PlannedJob } from './workload.js';

export interface SiteTimes {
  /** Mean of submitted→started less the wait the ideal schedule gave the job, ms. */
  readonly lateStart: number;
  /** Mean of finished→client, ms. */
  readonly delivery: number;
}

export interface SiteSplit {
  /** Share of the jobs with known times that ran on the node they were submitted to, %. */
  readonly atOrigin: number;
  readonly origin: SiteTimes;
  readonly elsewhere: SiteTimes;
}

/**
 * The balance scenario's excess split by where each job ran: on the node it was submitted to
 * (`nodeIds[portOf[i]]`), or on another the proxy chose. Jobs without a result or its times
 * are left out. The jobs' own times have millisecond resolution: single values are ±1 ms,
 * their means are not biased (both ends of each span are cut to the millisecond alike).
 */
export function bySite(
  res: Pick<OpenLoopResult, 'ranOn' | 'portOf' | 'startDelayMs' | 'deliveryMs'>,
  ideal: Float64Array,
  jobs: readonly Pick<PlannedJob, 'durationMs'>[],
  nodeIds: readonly string[],
): SiteSplit {
  const origin = { late: [] as number[], delivery: [] as number[] };
  const elsewhere = { late: [] as number[], delivery: [] as number[] };
  jobs.forEach((job, i) => {
    const ran = res.ranOn[i];
    const start = res.startDelayMs[i] as number;
    if (ran === undefined || Number.isNaN(start)) return;
    const site = ran === nodeIds[res.portOf[i] as number] ? origin : elsewhere;
    site.late.push(start - ((ideal[i] as number) - job.durationMs));
    site.delivery.push(res.deliveryMs[i] as number);
  });
  const known = origin.late.length + elsewhere.late.length;
  const times = (s: typeof origin): SiteTimes => ({
    lateStart: mean(s.late),
    delivery: mean(s.delivery),
  });
  return {
    atOrigin: known > 0 ? (origin.late.length / known) * 100 : NaN,
    origin: times(origin),
    elsewhere: times(elsewhere),
  };
}
