import type { Cluster } from '../cluster.js';
import { closedLoop, type ClosedLoopResult } from '../load.js';
import { cpuDelta, cpuSnapshot, type CpuDelta, type CpuSnapshot } from '../proc-stats.js';
import type { ScenarioResult } from '../report.js';
import { usPerJob, type ScenarioContext } from './context.js';

/**
 * 1. Throughput: a closed loop of no-op `echo` jobs, many clients pipelining over all nodes,
 * end to end (submit → result received by the client). Then the same with half the clients:
 * if throughput does not move, the cluster is saturated, not the client count; together with
 * the generator's own CPU per job this shows the load generator is not the bottleneck.
 */

interface Measured {
  readonly run: ClosedLoopResult;
  readonly cpu: CpuDelta;
}

async function measure(
  ctx: ScenarioContext,
  cluster: Cluster,
  clients: number,
  windowMs: number,
): Promise<Measured> {
  const pids = cluster.pids();
  let a: CpuSnapshot | undefined;
  let b: CpuSnapshot | undefined;
  const run = await closedLoop({
    ports: cluster.clientPorts,
    clients,
    depth: ctx.opts.depth,
    command: 'echo x',
    warmupMs: ctx.opts.warmupMs,
    durationMs: windowMs,
    recordLatency: true,
    onWindowStart: () => (a = cpuSnapshot(pids)),
    onWindowEnd: () => (b = cpuSnapshot(pids)),
  });
  if (a === undefined || b === undefined) throw new Error('no CPU snapshots');
  return { run, cpu: cpuDelta(a, b) };
}

function nodesCpuMs(cpu: CpuDelta): number {
  let sum = 0;
  for (const [name, ms] of Object.entries(cpu.byName)) if (name !== 'proxy') sum += ms;
  return sum;
}

export async function throughput(ctx: ScenarioContext, cluster: Cluster): Promise<ScenarioResult> {
  const { clients, depth } = ctx.opts;
  ctx.log(`throughput: ${clients} clients × ${depth} in flight, ${ctx.opts.throughputMs / 1000} s`);
  const full = await measure(ctx, cluster, clients, ctx.opts.throughputMs);
  cluster.assertAlive();
  const halfClients = Math.max(1, Math.floor(clients / 2));
  ctx.log(`throughput check: ${halfClients} clients, ${ctx.opts.checkMs / 1000} s`);
  const half = await measure(ctx, cluster, halfClients, ctx.opts.checkMs);

  const jobs = full.run.completedInWindow;
  const wallS = full.cpu.wallMs / 1000;
  const lat = full.run.latency;
  const notes: string[] = [];
  const errs = Object.entries(full.run.errors);
  if (errs.length > 0)
    notes.push(`throughput: errors ${errs.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  if (!full.run.drained) notes.push('throughput: jobs still in flight after the drain bound');
  return {
    metrics: [
      {
        label: 'jobs/s end to end',
        unit: '/s',
        value: full.run.perSecond,
        target: { op: '>=', value: 25_000 },
        digits: 0,
      },
      { label: `  same, ${halfClients} clients`, unit: '/s', value: half.run.perSecond, digits: 0 },
      { label: '  submit→result p50 (loaded)', unit: 'ms', value: lat?.p50 ?? NaN },
      { label: '  submit→result p99 (loaded)', unit: 'ms', value: lat?.p99 ?? NaN },
      {
        label: '  CPU/job proxy',
        unit: 'µs',
        value: usPerJob(full.cpu.byName.proxy ?? NaN, jobs),
        digits: 1,
      },
      {
        label: '  CPU/job nodes (sum)',
        unit: 'µs',
        value: usPerJob(nodesCpuMs(full.cpu), jobs),
        digits: 1,
      },
      {
        label: '  CPU/job load generator',
        unit: 'µs',
        value: usPerJob(full.cpu.ownMs, jobs),
        digits: 1,
      },
      {
        label: '  load generator CPU',
        unit: '% core',
        value: full.cpu.ownMs / 10 / wallS,
        digits: 0,
      },
      { label: '  machine busy', unit: '%', value: full.cpu.machineBusy * 100, digits: 0 },
      { label: '  errors', unit: '', value: errs.reduce((s, [, v]) => s + v, 0), digits: 0 },
    ],
    details: {
      clients,
      depth,
      slotsPerNode: cluster.options.slots,
      full: { ...full.run, cpu: full.cpu },
      half: { clients: halfClients, ...half.run, cpu: half.cpu },
    },
    notes,
  };
}
