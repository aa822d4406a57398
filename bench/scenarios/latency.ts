import type { Cluster } from '../cluster.js';
import { openLoop } from '../load.js';
import type { ScenarioResult } from '../report.js';
import { summarize } from '../stats.js';
import { echoJob, poissonArrivals, seededRandom } from '../workload.js';
import type { ScenarioContext } from './context.js';

/**
 * 2. Latency at light load: an open loop of `echo` jobs arriving as a Poisson stream (about
 * 200/s), each on an idle connection so no reply waits behind another job's WAIT.
 */
export async function latency(ctx: ScenarioContext, cluster: Cluster): Promise<ScenarioResult> {
  const { latencyRate, latencyMs } = ctx.opts;
  ctx.log(`latency: ${latencyRate} jobs/s open loop, ${latencyMs / 1000} s`);
  const jobs = poissonArrivals(seededRandom(ctx.opts.seed + 7), latencyRate, latencyMs, echoJob);
  const run = await openLoop({
    ports: cluster.clientPorts,
    jobs,
    deadlineMs: latencyMs + 10_000,
    prewarmPerPort: 8,
    maxPerPort: 64,
  });
  const ticket = summarize(run.ticketMs);
  const result = summarize(run.resultMs);
  const errs = Object.entries(run.errors);
  const notes: string[] = [];
  if (errs.length > 0)
    notes.push(`latency: errors ${errs.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  return {
    metrics: [
      {
        label: 'submit→ticket p50',
        unit: 'ms',
        value: ticket.p50,
      },
      { label: 'submit→ticket p99', unit: 'ms', value: ticket.p99 },
      { label: 'submit→ticket max', unit: 'ms', value: ticket.max },
      { label: 'submit→result p50', unit: 'ms', value: result.p50 },
      {
        label: 'submit→result p99',
        unit: 'ms',
        value: result.p99,
      },
      { label: 'submit→result max', unit: 'ms', value: result.max },
      { label: `unfinished (of ${jobs.length})`, unit: '', value: run.unfinished, digits: 0 },
    ],
    details: {
      rate: latencyRate,
      jobs: jobs.length,
      ticket,
      result,
      submittedToStarted: summarize(run.startDelayMs),
      finishedToClient: summarize(run.deliveryMs),
      unfinished: run.unfinished,
      errors: run.errors,
      sendLateness: run.lateness,
      sharedSends: run.sharedSends,
      connections: run.connections,
    },
    notes,
  };
}
