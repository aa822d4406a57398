import type { ScenarioResult } from '../report.js';
import { balance } from './balance.js';
import { clusterOptions, withCluster, type ScenarioContext } from './context.js';

/** The seed's periodic batched dispatch and slow sweeps, as the issue gives them. */
export const SEED_PROXY_ENV = {
  DISPATCH_PERIOD: '5000',
  MAX_NUM_JOBS_DISPATCH: '30',
  REQUEST_RESULT_PERIOD: '3000',
};
export const SEED_NODE_ENV = { INFO_PERIOD: '1000' };

/**
 * 4. Seed mode: scenario 3's workload on a cluster restarted with the seed's settings, so
 * the table shows what event-driven dispatch buys. With 30 jobs per 5 s the seed cannot
 * keep up with the arrivals; the run is bounded and unfinished jobs are counted.
 */
export async function seedMode(ctx: ScenarioContext): Promise<ScenarioResult> {
  const period = Number(SEED_PROXY_ENV.DISPATCH_PERIOD);
  // at least one full dispatch period after the arrivals end
  const graceMs = Math.max(ctx.opts.seedGraceMs, period + 1500 - ctx.opts.balanceMs);
  const opts = clusterOptions(ctx, 'seed', {
    slots: ctx.opts.balanceSlots,
    proxyEnv: SEED_PROXY_ENV,
    nodeEnv: SEED_NODE_ENV,
  });
  return withCluster(opts, (cluster) => balance(ctx, cluster, { graceMs, warmUp: false }));
}
