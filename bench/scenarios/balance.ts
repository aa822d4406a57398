import type { Cluster } from '../cluster.js';
import { idealResponseTimes } from '../ideal-schedule.js';
import { openLoop } from '../load.js';
import { idealWithPathCosts, meanWayToNode } from '../path-costs.js';
import { sampleLoads } from '../load-sampler.js';
import type { Metric, ScenarioResult } from '../report.js';
import { bySite } from '../site-split.js';
import { mean, summarize } from '../stats.js';
import { poissonArrivals, seededRandom, sleepJob, type PlannedJob } from '../workload.js';
import type { ScenarioContext } from './context.js';

/**
 * 3. Balance and response time (and 4., the same on a cluster in seed mode): sleep jobs with
 * exponential run times arriving as a Poisson stream at a share of the cluster's capacity.
 * Every node's queued + running is sampled every 10 ms; response times are compared with
 * the ideal schedule computed from the same arrivals and run times.
 */

/**
 * The workload, the same for scenario 3 and 4 (same seed); `warm`: the warm-up's, as long as
 * `balanceWarmMs`, from the next seed.
 */
export function balanceWorkload(
  ctx: ScenarioContext,
  warm = false,
): {
  jobs: PlannedJob[];
  rate: number;
  slots: number;
} {
  const { nodes, balanceSlots, meanSleepMs, balanceLoad, balanceMs, balanceWarmMs, seed } =
    ctx.opts;
  const slots = nodes * balanceSlots;
  const rate = (balanceLoad * slots * 1000) / meanSleepMs;
  const random = seededRandom(warm ? seed + 1 : seed);
  const jobs = poissonArrivals(
    random,
    rate,
    warm ? balanceWarmMs : balanceMs,
    sleepJob(meanSleepMs),
  );
  return { jobs, rate, slots };
}

export interface BalanceRunOptions {
  /** Results not back this long after the arrivals end count as unfinished. */
  readonly graceMs: number;
  /**
   * The same load, unmeasured, for `balanceWarmMs` first, every result awaited: a fresh
   * process answers slowly until V8 has compiled its hot paths, and a cluster in production
   * runs warm. (Seed mode's periodic dispatch cannot keep up with the load: it starts cold.)
   */
  readonly warmUp: boolean;
}

export async function balance(
  ctx: ScenarioContext,
  cluster: Cluster,
  run: BalanceRunOptions,
): Promise<ScenarioResult> {
  const { jobs, rate, slots } = balanceWorkload(ctx);
  const windowMs = ctx.opts.balanceMs;
  const warmMs = run.warmUp ? ctx.opts.balanceWarmMs : 0;
  let warmUp: { jobs: number; unfinished: number } | undefined;
  if (warmMs > 0) {
    const warm = balanceWorkload(ctx, true).jobs;
    ctx.log(`${cluster.options.label}: ${warm.length} sleep jobs to warm it up, unmeasured`);
    const w = await openLoop({
      ports: cluster.clientPorts,
      jobs: warm,
      deadlineMs: warmMs + run.graceMs,
      prewarmPerPort: 32,
      maxPerPort: 1500,
    });
    if (w.unfinished > 0)
      ctx.log(`${cluster.options.label}: ${w.unfinished} warm-up jobs unfinished`);
    warmUp = { jobs: warm.length, unfinished: w.unfinished };
  }
  ctx.log(
    `${cluster.options.label}: ${jobs.length} sleep jobs at ${rate.toFixed(0)}/s (${slots} slots), ${windowMs / 1000} s`,
  );
  const [loads, res] = await Promise.all([
    sampleLoads(cluster.proxyPort, 10, windowMs),
    openLoop({
      ports: cluster.clientPorts,
      jobs,
      deadlineMs: windowMs + run.graceMs,
      prewarmPerPort: 32,
      maxPerPort: 1500,
    }),
  ]);

  const planned = jobs.map((j, i) => ({ arrival: res.sentAt[i] ?? j.at, duration: j.durationMs }));
  const ideal = idealResponseTimes(planned, slots);
  // the same, every job holding its slot as long as it ran and its result as long as it travelled
  const idealPaths = mean(idealWithPathCosts(planned, res.runMs, res.deliveryMs, slots));
  // unfinished jobs count with the time they had waited when the run ended: a lower bound
  const censoredAt = windowMs + run.graceMs;
  const response = new Float64Array(jobs.length);
  let unfinished = 0;
  for (let i = 0; i < jobs.length; i++) {
    const r = res.resultMs[i] as number;
    if (Number.isNaN(r)) {
      unfinished++;
      const sent = res.sentAt[i] as number;
      response[i] = Number.isNaN(sent) ? NaN : censoredAt - sent;
    } else response[i] = r;
  }
  const measured = summarize(response);
  const sites = bySite(
    res,
    ideal,
    jobs,
    cluster.nodes.map((n) => n.name),
  );
  const idealMean = mean(ideal);
  const balanced = loads.spreads.filter((s) => s <= 1).length;
  const bound = unfinished > 0 ? '≥' : '';
  const excess = (measured.mean / idealMean - 1) * 100;
  const metrics: Metric[] = [
    {
      label: 'samples with max−min ≤ 1',
      unit: '%',
      value: loads.spreads.length > 0 ? (balanced / loads.spreads.length) * 100 : NaN,
      target: { op: '>=', value: 99 },
      digits: 1,
    },
    { label: 'mean max−min', unit: '', value: mean(loads.spreads), digits: 2 },
    {
      label: 'job waits on a node, slot free on another',
      unit: '% of samples',
      value: loads.spreads.length > 0 ? (loads.unconserved / loads.spreads.length) * 100 : NaN,
      target: { op: '<=', value: 1 },
      digits: 2,
    },
    {
      label: 'job waits at the proxy, slot free on a node',
      unit: '% of samples',
      value: loads.spreads.length > 0 ? (loads.queuedWhileFree / loads.spreads.length) * 100 : NaN,
      digits: 2,
    },
    // a cluster that runs nothing is perfectly balanced: this shows how busy the nodes were
    {
      label: 'mean queued+running per node',
      unit: '',
      value: mean(loads.loads.flat()),
      digits: 2,
    },
    { label: 'mean response', unit: 'ms', value: measured.mean, prefix: bound, digits: 1 },
    { label: 'ideal mean response', unit: 'ms', value: idealMean, digits: 1 },
    {
      label: 'response above ideal',
      unit: '%',
      value: excess,
      prefix: bound,
      target: { op: '<=', value: 3 },
      digits: 1,
    },
    {
      label: '  ideal with the runs and results as they went',
      unit: 'ms',
      value: idealPaths,
      digits: 1,
    },
    {
      label: '  response above that (way to a slot)',
      unit: '%',
      value: (measured.mean / idealPaths - 1) * 100,
      prefix: bound,
      digits: 1,
    },
    {
      label: '    of which sent→at a node',
      unit: 'ms',
      value: meanWayToNode(response, res.startDelayMs, res.runMs, res.deliveryMs),
      digits: 2,
    },
    {
      label: '  of which submitted→started',
      unit: 'ms',
      value: mean(res.startDelayMs.filter((v) => !Number.isNaN(v))),
      digits: 1,
    },
    {
      label: '  of which finished→client',
      unit: 'ms',
      value: mean(res.deliveryMs.filter((v) => !Number.isNaN(v))),
      digits: 1,
    },
    { label: '  run at its origin', unit: '% of jobs', value: sites.atOrigin, digits: 1 },
    {
      label: '  started after the ideal, at origin',
      unit: 'ms',
      value: sites.origin.lateStart,
      digits: 2,
    },
    { label: '    elsewhere', unit: 'ms', value: sites.elsewhere.lateStart, digits: 2 },
    { label: '  finished→client, at origin', unit: 'ms', value: sites.origin.delivery, digits: 2 },
    { label: '    elsewhere', unit: 'ms', value: sites.elsewhere.delivery, digits: 2 },
    { label: 'response p99', unit: 'ms', value: measured.p99, prefix: bound, digits: 1 },
    { label: `unfinished (of ${jobs.length})`, unit: '', value: unfinished, digits: 0 },
  ];
  const notes: string[] = [];
  const errs = Object.entries(res.errors);
  if (errs.length > 0)
    notes.push(`${cluster.options.label}: errors ${errs.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  if (unfinished > 0) {
    notes.push(
      `${cluster.options.label}: ${unfinished} jobs had no result ${run.graceMs / 1000} s after the arrivals ended; they count with the time waited so far (lower bound)`,
    );
  }
  return {
    metrics,
    details: {
      rate,
      slots,
      jobs: jobs.length,
      warmUp: warmUp ?? null,
      meanDurationMs: mean(jobs.map((j) => j.durationMs)),
      response: measured,
      ideal: summarize(ideal),
      samples: loads.spreads.length,
      sampleFailures: loads.failures,
      meanSamplePeriodMs: loads.meanPeriodMs,
      spreadHistogram: histogram(loads.spreads),
      outstandingSpreadHistogram: histogram(loads.outstandingSpreads),
      meanLoadPerNode: loads.nodeIds.map((id, k) => ({
        id,
        mean: mean(loads.loads.map((s) => s[k] ?? 0)),
      })),
      ticket: summarize(res.ticketMs),
      submittedToStarted: summarize(res.startDelayMs),
      runOverrunMs: summarize(res.runMs.map((r, i) => r - (jobs[i]?.durationMs ?? 0))),
      finishedToClient: summarize(res.deliveryMs),
      sendLateness: res.lateness,
      connections: res.connections,
      sharedSends: res.sharedSends,
      unfinished,
      errors: res.errors,
    },
    notes,
  };
}

function histogram(values: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}
