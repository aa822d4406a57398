import { Cluster, type ClusterOptions, type Durability } from '../cluster.js';
import type { BenchOptions } from '../options.js';

/** What every scenario gets: the flags, the durability mode of this run, a progress log. */
export interface ScenarioContext {
  readonly opts: BenchOptions;
  readonly durability: Durability;
  log(message: string): void;
}

/** Options common to every cluster a scenario starts. */
export function clusterOptions(
  ctx: ScenarioContext,
  label: string,
  extra: Partial<ClusterOptions>,
): ClusterOptions {
  return {
    label: `${label}-${ctx.durability}`,
    nodes: ctx.opts.nodes,
    slots: ctx.opts.throughputSlots,
    durability: ctx.durability,
    profileDir: ctx.opts.profileDir,
    proxyMain: ctx.opts.build?.proxy,
    nodeMain: ctx.opts.build?.node,
    ...extra,
    proxyEnv: { ...ctx.opts.proxyEnv, ...extra.proxyEnv },
  };
}

/** Runs `fn` on a fresh cluster, which is stopped afterwards whatever happens. */
export async function withCluster<T>(
  opts: ClusterOptions,
  fn: (c: Cluster) => Promise<T>,
): Promise<T> {
  const cluster = await Cluster.start(opts);
  try {
    const out = await fn(cluster);
    cluster.assertAlive();
    return out;
  } finally {
    await cluster.stop();
  }
}

/** Microseconds per job, from ms of CPU and a job count. */
export function usPerJob(cpuMs: number, jobs: number): number {
  return jobs > 0 ? (cpuMs * 1000) / jobs : NaN;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
