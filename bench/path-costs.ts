import { idealResponseTimes, type IdealJob } from './ideal-schedule.js';

/**
 * The ideal schedule again, with each job's own path costs as this run measured them: every
 * job holds its slot as long as its run really took (a run that overran keeps its slot longer,
 * and the queue behind it pays that again), and its result then takes as long as it really
 * took from the run's end to its client. What the measured mean response exceeds this by is
 * what one FIFO queue over every slot would have saved with the same runs and deliveries: the
 * job's way to a node, its dispatch, and its placement. Jobs without measured times (no
 * result) keep their planned run and no delivery.
 */
export function idealWithPathCosts(
  jobs: readonly IdealJob[],
  runMs: ArrayLike<number>,
  deliveryMs: ArrayLike<number>,
  slots: number,
): Float64Array {
  const ran = jobs.map((j, i) => {
    const run = runMs[i];
    return run !== undefined && Number.isFinite(run) && run >= 0
      ? { arrival: j.arrival, duration: run }
      : j;
  });
  const out = idealResponseTimes(ran, slots);
  for (let i = 0; i < out.length; i++) {
    const d = deliveryMs[i];
    if (d !== undefined && Number.isFinite(d) && d > 0) out[i] = (out[i] as number) + d;
  }
  return out;
}

/**
 * The mean time from a job's submission by the client to its arrival at a node (the node's
 * `submittedAt`): its response less what the node's own times account for (submitted→started,
 * the run, finished→client). Only jobs with every time known count; the node's times have
 * millisecond resolution, so single values are ±1 ms while their mean is not biased.
 */
export function meanWayToNode(
  responseMs: ArrayLike<number>,
  startDelayMs: ArrayLike<number>,
  runMs: ArrayLike<number>,
  deliveryMs: ArrayLike<number>,
): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < responseMs.length; i++) {
    const v =
      (responseMs[i] as number) -
      (startDelayMs[i] as number) -
      (runMs[i] as number) -
      (deliveryMs[i] as number);
    if (!Number.isFinite(v)) continue;
    sum += v;
    count++;
  }
  return count > 0 ? sum / count : NaN;
}
