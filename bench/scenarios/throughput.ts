import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Cluster } from '../cluster.js';
import { closedLoop, type ClosedLoopResult } from '../load.js';
import { availableParallelism } from 'node:os';
import {
  cpuDelta,
  cpuSnapshot,
  foreignShare,
  type CpuDelta,
  type CpuSnapshot,
} from '../proc-stats.js';
import type { ScenarioResult } from '../report.js';
import { usPerJob, type ScenarioContext } from './context.js';

/**
 * 1. Throughput: a closed loop of no-op `echo` jobs, many clients pipelining over all nodes,
 * end to end (submit → result received by the client). To show the load generator is not
 * the bottleneck, it reports its own CPU per job and event-loop utilisation, and runs a
 * second, shorter window with twice the clients: if that does not raise throughput, the
 * cluster sets the rate, not the generator.
 */

interface Measured {
  readonly run: ClosedLoopResult;
  readonly cpu: CpuDelta;
  /** Share of the window the generator's event loop was busy, 0..1. */
  readonly elu: number;
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
  let eluStart: EventLoopUtilization | undefined;
  let elu = NaN;
  const run = await closedLoop({
    ports: cluster.clientPorts,
    clients,
    depth: ctx.opts.depth,
    command: 'echo x',
    warmupMs: ctx.opts.warmupMs,
    durationMs: windowMs,
    recordLatency: true,
    onWindowStart: () => {
      a = cpuSnapshot(pids);
      eluStart = performance.eventLoopUtilization();
    },
    onWindowEnd: () => {
      b = cpuSnapshot(pids);
      elu = performance.eventLoopUtilization(eluStart).utilization;
    },
  });
  if (a === undefined || b === undefined) throw new Error('no CPU snapshots');
  return { run, cpu: cpuDelta(a, b), elu };
}

function nodesCpuMs(cpu: CpuDelta): number {
  let sum = 0;
  for (const [name, ms] of Object.entries(cpu.byName)) if (name !== 'proxy') sum += ms;
  return sum;
}

export async function throughput(ctx: ScenarioContext, cluster: Cluster): Promise<ScenarioResult> {
  const { clients, depth } = ctx.opts;
  ctx.log(`throughput: ${clients} clients × ${depth} in flight, ${ctx.opts.throughputMs / 1000} s`);
  const main = await measure(ctx, cluster, clients, ctx.opts.throughputMs);
  cluster.assertAlive();
  const moreClients = clients * 2;
  ctx.log(`throughput check: ${moreClients} clients, ${ctx.opts.checkMs / 1000} s`);
  const more = await measure(ctx, cluster, moreClients, ctx.opts.checkMs);

  const jobs = main.run.completedInWindow;
  const wallS = main.cpu.wallMs / 1000;
  const lat = main.run.latency;
  const genUs = usPerJob(main.cpu.ownMs, jobs);
  const clusterUs = usPerJob((main.cpu.byName.proxy ?? NaN) + nodesCpuMs(main.cpu), jobs);
  const gain = more.run.perSecond / main.run.perSecond;
  const notes: string[] = [
    `load generator check (${ctx.durability}): ${genUs.toFixed(1)} µs of its own CPU per job against ` +
      `${clusterUs.toFixed(0)} µs in the cluster (${((100 * genUs) / (genUs + clusterUs)).toFixed(0)}% of the CPU spent); ` +
      `its event loop was ${(100 * main.elu).toFixed(0)}% busy; twice the clients gave ${(100 * gain).toFixed(0)}% of the throughput` +
      (gain < 1.1
        ? ', so the cluster, not the generator, sets the rate.'
        : ': more offered load still raises it.'),
  ];
  const errs = Object.entries(main.run.errors);
  if (errs.length > 0) {
    notes.push(`throughput: errors ${errs.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  }
  if (!main.run.drained) notes.push('throughput: jobs still in flight after the drain bound');
  return {
    metrics: [
      {
        label: 'jobs/s end to end',
        unit: '/s',
        value: main.run.perSecond,
        digits: 0,
      },
      { label: `  same, ${moreClients} clients`, unit: '/s', value: more.run.perSecond, digits: 0 },
      { label: '  submit→result p50 (loaded)', unit: 'ms', value: lat?.p50 ?? NaN },
      { label: '  submit→result p99 (loaded)', unit: 'ms', value: lat?.p99 ?? NaN },
      {
        label: '  CPU/job proxy',
        unit: 'µs',
        value: usPerJob(main.cpu.byName.proxy ?? NaN, jobs),
        digits: 1,
      },
      {
        label: '  CPU/job nodes (sum)',
        unit: 'µs',
        value: usPerJob(nodesCpuMs(main.cpu), jobs),
        digits: 1,
      },
      { label: '  CPU/job load generator', unit: 'µs', value: genUs, digits: 1 },
      { label: '  load generator loop busy', unit: '%', value: main.elu * 100, digits: 0 },
      { label: '  machine busy', unit: '%', value: main.cpu.machineBusy * 100, digits: 0 },
      {
        label: '  of which other processes',
        unit: '%',
        value: foreignShare(main.cpu, availableParallelism()) * 100,
        digits: 0,
      },
      { label: '  errors', unit: '', value: errs.reduce((s, [, v]) => s + v, 0), digits: 0 },
    ],
    details: {
      clients,
      depth,
      slotsPerNode: cluster.options.slots,
      main: {
        ...main.run,
        cpu: main.cpu,
        eventLoopUtilization: main.elu,
        cpuSharePerCore: main.cpu.ownMs / 10 / wallS,
      },
      moreClients: {
        clients: moreClients,
        ...more.run,
        cpu: more.cpu,
        eventLoopUtilization: more.elu,
      },
    },
    notes,
  };
}
