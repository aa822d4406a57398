import { FakeFleet } from '../fake-nodes.js';
import { getCluster } from '../http-json.js';
import { availableParallelism } from 'node:os';
import { cpuDelta, cpuSnapshot, foreignShare } from '../proc-stats.js';
import type { ScenarioResult } from '../report.js';
import { summarize } from '../stats.js';
import { clusterOptions, sleep, usPerJob, withCluster, type ScenarioContext } from './context.js';

/** NODE_TIMEOUT of the proxies under the fake fleet. */
const SCALE_NODE_TIMEOUT_MS = 10_000;

/**
 * 5. Scale: one proxy, many light fake nodes in this process speaking the real cluster
 * protocol. Some of them forward `echo` jobs in a closed loop; all of them run what they
 * are given at once. Measures the proxy's dispatch rate and its CPU per job.
 */
export async function scale(ctx: ScenarioContext): Promise<ScenarioResult> {
  const current = await measureScale(ctx, undefined);
  const baselineProxy = ctx.opts.baselineProxy;
  if (baselineProxy === undefined) return current;
  ctx.log(`scale: the same load on the baseline proxy ${baselineProxy}`);
  const baseline = await measureScale(ctx, baselineProxy);
  const perCpuS = (r: ScenarioResult) =>
    r.metrics.find((m) => m.label === 'dispatches per proxy CPU-second')?.value ?? NaN;
  const rate = (r: ScenarioResult) => r.metrics[0]?.value ?? NaN;
  return {
    metrics: [
      ...current.metrics,
      { label: 'baseline dispatch rate', unit: '/s', value: rate(baseline), digits: 0 },
      {
        label: 'baseline dispatches per proxy CPU-s',
        unit: '/s',
        value: perCpuS(baseline),
        digits: 0,
      },
      {
        label: '  this ÷ baseline (per CPU-s)',
        unit: '×',
        value: perCpuS(current) / perCpuS(baseline),
        target: { op: '>=', value: 1.5 },
        digits: 2,
      },
    ],
    details: { ...current.details, baseline: baseline.details },
    notes: [...current.notes, ...baseline.notes.map((n) => `baseline ${n}`)],
  };
}

async function measureScale(
  ctx: ScenarioContext,
  proxyMain: string | undefined,
): Promise<ScenarioResult> {
  const { fakeNodes, fakeSlots, fakeInfoPeriodMs, scaleOrigins, scaleWindow, scaleMs, warmupMs } =
    ctx.opts;
  const opts = clusterOptions(ctx, proxyMain === undefined ? 'scale' : 'scale-baseline', {
    nodes: 0,
    // The fleet is one process among others on a shared machine: a stall of it must not read as
    // nodes dying, which would measure requeueing instead of dispatching.
    proxyEnv: {
      MAX_NUM_NODES: String(fakeNodes + 16),
      NODE_TIMEOUT: String(SCALE_NODE_TIMEOUT_MS),
    },
    proxyMain: proxyMain ?? ctx.opts.build?.proxy,
  });
  return withCluster(opts, async (cluster) => {
    ctx.log(`scale: connecting ${fakeNodes} fake nodes`);
    const joinStart = performance.now();
    const fleet = await FakeFleet.start({
      url: `ws://127.0.0.1:${cluster.proxyPort}/cluster`,
      count: fakeNodes,
      slots: fakeSlots,
      infoPeriodMs: fakeInfoPeriodMs,
    });
    try {
      const joinMs = performance.now() - joinStart;
      const seen = (await getCluster(cluster.proxyPort, 5000)).nodes.filter(
        (n) => n.connected,
      ).length;
      if (seen < fakeNodes)
        throw new Error(
          `proxy shows ${seen}/${fakeNodes} fake nodes connected` +
            (fleet.closeReasons.length
              ? ` (closed: ${fleet.closeReasons.slice(0, 3).join('; ')})`
              : ''),
        );
      const origins = Math.min(scaleOrigins, fakeNodes);
      ctx.log(
        `scale: ${fakeNodes} joined in ${(joinMs / 1000).toFixed(1)} s; load from ${origins} origins × ${scaleWindow}, ${scaleMs / 1000} s`,
      );
      const pids = { proxy: cluster.proxy.pid };
      fleet.startLoad(origins, scaleWindow);
      await sleep(warmupMs);
      fleet.resetLatencies();
      const c0 = { ...fleet.counters };
      const a = cpuSnapshot(pids);
      await sleep(scaleMs);
      const b = cpuSnapshot(pids);
      const c1 = { ...fleet.counters };
      const latencies = fleet.stopLoad();
      const drainEnd = performance.now() + 5000;
      while (fleet.outstanding() > 0 && performance.now() < drainEnd) await sleep(20);
      cluster.assertAlive();

      const cpu = cpuDelta(a, b);
      const dispatched = c1.dispatched - c0.dispatched;
      const atOrigin = c1.resultsAtOrigin - c0.resultsAtOrigin;
      const wallS = cpu.wallMs / 1000;
      const lat = summarize(latencies);
      const notes: string[] = [];
      if (c1.closes > 0)
        notes.push(
          `scale: ${c1.closes} fake-node connections were closed by the proxy (${fleet.closeReasons.join('; ')})`,
        );
      return {
        metrics: [
          {
            label: `dispatch rate (${fakeNodes} nodes)`,
            unit: '/s',
            value: dispatched / wallS,
            digits: 0,
          },
          {
            label: 'dispatches per proxy CPU-second',
            unit: '/s',
            value: dispatched / ((cpu.byName.proxy ?? NaN) / 1000),
            digits: 0,
          },
          { label: 'results at origin', unit: '/s', value: atOrigin / wallS, digits: 0 },
          {
            label: 'proxy CPU/job',
            unit: 'µs',
            value: usPerJob(cpu.byName.proxy ?? NaN, dispatched),
            digits: 1,
          },
          {
            label: 'proxy CPU',
            unit: '% core',
            value: (cpu.byName.proxy ?? NaN) / 10 / wallS,
            digits: 0,
          },
          { label: 'fake fleet CPU', unit: '% core', value: cpu.ownMs / 10 / wallS, digits: 0 },
          {
            label: 'frames into the proxy per dispatch',
            unit: '',
            value: (c1.framesOut - c0.framesOut) / dispatched,
            digits: 2,
          },
          {
            label: '  of them heartbeat INFOs',
            unit: '',
            value: (c1.heartbeats - c0.heartbeats) / dispatched,
            digits: 2,
          },
          {
            label: 'frames out of the proxy per dispatch',
            unit: '',
            value: (c1.framesIn - c0.framesIn) / dispatched,
            digits: 2,
          },
          { label: 'forward→result p50', unit: 'ms', value: lat.p50 },
          { label: 'forward→result p99', unit: 'ms', value: lat.p99 },
          {
            label: 'other processes (machine)',
            unit: '%',
            value: foreignShare(cpu, availableParallelism()) * 100,
            digits: 0,
          },
          { label: 'join time', unit: 's', value: joinMs / 1000, digits: 1 },
        ],
        details: {
          fakeNodes,
          slotsPerNode: fakeSlots,
          infoPeriodMs: fakeInfoPeriodMs,
          origins,
          windowPerOrigin: scaleWindow,
          windowMs: cpu.wallMs,
          counters: { before: c0, after: c1 },
          cpu,
          fleetCpuPerJobUs: usPerJob(cpu.ownMs, dispatched),
          originLatency: lat,
          stillOutstanding: fleet.outstanding(),
        },
        notes,
      };
    } finally {
      fleet.close();
    }
  });
}
