import { availableParallelism } from 'node:os';
import { Cluster } from '../cluster.js';
import { FakeFleet, type FleetCounters } from '../fake-nodes.js';
import { getCluster } from '../http-json.js';
import { firstInRound } from '../peer-rounds.js';
import { cpuDelta, cpuSnapshot, foreignShare, rssBytes, type CpuDelta } from '../proc-stats.js';
import type { Metric, ScenarioResult } from '../report.js';
import { median, summarize } from '../stats.js';
import { clusterOptions, sleep, usPerJob, type ScenarioContext } from './context.js';

/** NODE_TIMEOUT of the proxies under the fake fleet. */
const SCALE_NODE_TIMEOUT_MS = 10_000;

/** A proxy under its own fake fleet, ready to be loaded. */
interface Side {
  readonly cluster: Cluster;
  readonly fleet: FakeFleet;
  readonly joinMs: number;
}

/** One loaded window of a side. */
interface Window {
  readonly dispatched: number;
  readonly atOrigin: number;
  readonly cpu: CpuDelta;
  readonly before: FleetCounters;
  readonly after: FleetCounters;
  readonly latencies: Float64Array;
  readonly outstanding: number;
  /** The proxy's resident set at the window's end, bytes. */
  readonly proxyRss: number;
}

/**
 * 5. Scale: one proxy, many light fake nodes in this process speaking the real cluster
 * protocol. Some of them forward `echo` jobs in a closed loop; all of them run what they
 * are given at once. Measures the proxy's dispatch rate and its CPU per job.
 *
 * With a baseline, both proxies stay up under fleets of their own and are loaded in turn
 * (this, baseline, baseline, this, …), as the peers scenario does: a minute when the shared
 * machine is busy falls on both, and the ratio is the median of the rounds' own.
 */
export async function scale(ctx: ScenarioContext): Promise<ScenarioResult> {
  const baselineProxy = ctx.opts.baselineProxy;
  const current = await openSide(ctx, undefined);
  try {
    if (baselineProxy === undefined) {
      const w = await loadWindow(ctx, current, ctx.opts.scaleMs);
      return report([w], current);
    }
    ctx.log(`scale: the same load on the baseline proxy ${baselineProxy}, in turn`);
    const baseline = await openSide(ctx, baselineProxy);
    try {
      const rounds = ctx.opts.scaleRounds;
      const windowMs = ctx.opts.scaleMs / 2;
      const mine: Window[] = [];
      const theirs: Window[] = [];
      for (let i = 0; i < rounds; i++) {
        const order = firstInRound(i) === 'system' ? [true, false] : [false, true];
        for (const isMine of order) {
          const w = await loadWindow(ctx, isMine ? current : baseline, windowMs);
          (isMine ? mine : theirs).push(w);
        }
        const r = perCpuS([mine[i] as Window]) / perCpuS([theirs[i] as Window]);
        ctx.log(`scale: round ${i + 1}/${rounds}: this ÷ baseline ${r.toFixed(2)}`);
      }
      return compare(report(mine, current), report(theirs, baseline), mine, theirs);
    } finally {
      await closeSide(baseline);
    }
  } finally {
    await closeSide(current);
  }
}

async function openSide(ctx: ScenarioContext, proxyMain: string | undefined): Promise<Side> {
  const { fakeNodes, fakeSlots, fakeInfoPeriodMs } = ctx.opts;
  const cluster = await Cluster.start(
    clusterOptions(ctx, proxyMain === undefined ? 'scale' : 'scale-baseline', {
      nodes: 0,
      // The fleet is one process among others on a shared machine: a stall of it must not read
      // as nodes dying, which would measure requeueing instead of dispatching.
      proxyEnv: {
        MAX_NUM_NODES: String(fakeNodes + 16),
        NODE_TIMEOUT: String(SCALE_NODE_TIMEOUT_MS),
      },
      proxyMain: proxyMain ?? ctx.opts.build?.proxy,
    }),
  );
  let fleet: FakeFleet | undefined;
  try {
    ctx.log(`scale: connecting ${fakeNodes} fake nodes`);
    const joinStart = performance.now();
    fleet = await FakeFleet.start({
      url: `ws://127.0.0.1:${cluster.proxyPort}/cluster`,
      count: fakeNodes,
      slots: fakeSlots,
      infoPeriodMs: fakeInfoPeriodMs,
    });
    const joinMs = performance.now() - joinStart;
    const seen = (await getCluster(cluster.proxyPort, 5000)).nodes.filter((n) => n.connected);
    if (seen.length < fakeNodes) {
      const closed = fleet.closeReasons.slice(0, 3).join('; ');
      throw new Error(
        `proxy shows ${seen.length}/${fakeNodes} fake nodes connected` +
          (closed ? ` (closed: ${closed})` : ''),
      );
    }
    ctx.log(`scale: ${fakeNodes} joined in ${(joinMs / 1000).toFixed(1)} s`);
    return { cluster, fleet, joinMs };
  } catch (err) {
    fleet?.close();
    await cluster.stop();
    throw err;
  }
}

async function closeSide(side: Side): Promise<void> {
  side.fleet.close();
  try {
    side.cluster.assertAlive();
  } finally {
    await side.cluster.stop();
  }
}

/** Loads a side for a warm-up and `ms`, then lets its jobs drain; the window's figures. */
async function loadWindow(ctx: ScenarioContext, side: Side, ms: number): Promise<Window> {
  const { fleet, cluster } = side;
  const origins = Math.min(ctx.opts.scaleOrigins, ctx.opts.fakeNodes);
  ctx.log(`scale: load from ${origins} origins × ${ctx.opts.scaleWindow}, ${ms / 1000} s`);
  const pids = { proxy: cluster.proxy.pid };
  fleet.startLoad(origins, ctx.opts.scaleWindow);
  await sleep(ctx.opts.warmupMs);
  fleet.resetLatencies();
  const before = { ...fleet.counters };
  const a = cpuSnapshot(pids);
  await sleep(ms);
  const b = cpuSnapshot(pids);
  const proxyRss = rssBytes(cluster.proxy.pid);
  const after = { ...fleet.counters };
  const latencies = fleet.stopLoad();
  const drainEnd = performance.now() + 5000;
  while (fleet.outstanding() > 0 && performance.now() < drainEnd) await sleep(20);
  cluster.assertAlive();
  return {
    dispatched: after.dispatched - before.dispatched,
    atOrigin: after.resultsAtOrigin - before.resultsAtOrigin,
    cpu: cpuDelta(a, b),
    before,
    after,
    latencies,
    outstanding: fleet.outstanding(),
    proxyRss,
  };
}

/** Dispatches per proxy CPU-second over `ws` together. */
function perCpuS(ws: readonly Window[]): number {
  const sum = (f: (w: Window) => number) => ws.reduce((s, w) => s + f(w), 0);
  return sum((w) => w.dispatched) / (sum((w) => w.cpu.byName.proxy ?? NaN) / 1000);
}

/** The figures of one side over its windows together. */
function report(ws: readonly Window[], side: Side): ScenarioResult {
  const sum = (f: (w: Window) => number) => ws.reduce((s, w) => s + f(w), 0);
  const counter = (k: keyof FleetCounters) => sum((w) => w.after[k] - w.before[k]);
  const dispatched = sum((w) => w.dispatched);
  const proxyMs = sum((w) => w.cpu.byName.proxy ?? NaN);
  const ownMs = sum((w) => w.cpu.ownMs);
  const wallS = sum((w) => w.cpu.wallMs) / 1000;
  const lat = summarize(Float64Array.from(ws.flatMap((w) => [...w.latencies])));
  const closes = counter('closes');
  const foreign = ws.map((w) => foreignShare(w.cpu, availableParallelism()));
  return {
    metrics: [
      {
        label: `dispatch rate (${ws.length > 1 ? 'in turn' : 'one window'})`,
        unit: '/s',
        value: dispatched / wallS,
        digits: 0,
      },
      { label: 'dispatches per proxy CPU-second', unit: '/s', value: perCpuS(ws), digits: 0 },
      { label: 'results at origin', unit: '/s', value: sum((w) => w.atOrigin) / wallS, digits: 0 },
      { label: 'proxy CPU/job', unit: 'µs', value: usPerJob(proxyMs, dispatched), digits: 1 },
      { label: 'proxy CPU', unit: '% core', value: proxyMs / 10 / wallS, digits: 0 },
      {
        label: 'proxy RSS, loaded',
        unit: 'MB',
        value: Math.max(...ws.map((w) => w.proxyRss)) / 2 ** 20,
        digits: 0,
      },
      { label: 'fake fleet CPU', unit: '% core', value: ownMs / 10 / wallS, digits: 0 },
      {
        label: 'frames into the proxy per dispatch',
        unit: '',
        value: counter('framesOut') / dispatched,
        digits: 2,
      },
      {
        label: '  of them heartbeat INFOs',
        unit: '',
        value: counter('heartbeats') / dispatched,
        digits: 2,
      },
      {
        label: 'frames out of the proxy per dispatch',
        unit: '',
        value: counter('framesIn') / dispatched,
        digits: 2,
      },
      { label: 'forward→result p50', unit: 'ms', value: lat.p50 },
      { label: 'forward→result p99', unit: 'ms', value: lat.p99 },
      {
        label: 'other processes (machine)',
        unit: '%',
        value: (foreign.reduce((s, f) => s + f, 0) / foreign.length) * 100,
        digits: 0,
      },
      { label: 'join time', unit: 's', value: side.joinMs / 1000, digits: 1 },
    ],
    details: {
      windows: ws.length,
      windowMs: ws.map((w) => w.cpu.wallMs),
      perCpuSecond: ws.map((w) => perCpuS([w])),
      counters: ws.map((w) => ({ before: w.before, after: w.after })),
      cpu: ws.map((w) => w.cpu),
      fleetCpuPerJobUs: usPerJob(ownMs, dispatched),
      originLatency: lat,
      stillOutstanding: ws.map((w) => w.outstanding),
    },
    notes:
      closes > 0
        ? [
            `scale: ${closes} fake-node connections were closed by the proxy (${side.fleet.closeReasons.join('; ')})`,
          ]
        : [],
  };
}

/** This side's figures, then the baseline's, and the median of the rounds' ratios. */
function compare(
  current: ScenarioResult,
  baseline: ScenarioResult,
  mine: readonly Window[],
  theirs: readonly Window[],
): ScenarioResult {
  const ratios = mine.map((w, i) => perCpuS([w]) / perCpuS([theirs[i] as Window]));
  const value = (label: string) =>
    baseline.metrics.find((m) => m.label.startsWith(label))?.value ?? NaN;
  const extra: Metric[] = [
    { label: 'baseline dispatch rate', unit: '/s', value: value('dispatch rate'), digits: 0 },
    {
      label: 'baseline dispatches per proxy CPU-s',
      unit: '/s',
      value: value('dispatches per proxy CPU-second'),
      digits: 0,
    },
    { label: 'baseline proxy CPU/job', unit: 'µs', value: value('proxy CPU/job'), digits: 1 },
    { label: 'baseline proxy RSS, loaded', unit: 'MB', value: value('proxy RSS'), digits: 0 },
    {
      label: '  this ÷ baseline (per CPU-s)',
      unit: '×',
      value: median(ratios),
      target: { op: '>=', value: 1.5 },
      digits: 2,
    },
  ];
  return {
    metrics: [...current.metrics, ...extra],
    details: { ...current.details, ratios, baseline: baseline.details },
    notes: [
      ...current.notes,
      ...baseline.notes.map((n) => `baseline ${n}`),
      `scale: ${ratios.length} rounds in turn, this ÷ baseline per CPU-s: ${ratios.map((r) => r.toFixed(2)).join(', ')} (median shown)`,
    ],
  };
}
