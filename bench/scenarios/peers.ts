import {
  beanstalkClosedLoop,
  beanstalkdPath,
  beanstalkPaced,
  startBeanstalkd,
  type PeerRun,
} from '../beanstalk.js';
import { Cluster } from '../cluster.js';
import { measureCommitFloor, measurePacedFloor } from '../fsync-floor.js';
import { measureCommitServer } from '../commit-floor.js';
import { closedLoop, openLoop } from '../load.js';
import { cpuDelta, cpuSnapshot } from '../proc-stats.js';
import type { Metric, ScenarioResult } from '../report.js';
import { summarize, type Summary } from '../stats.js';
import { echoJob, poissonArrivals, seededRandom } from '../workload.js';
import type { ScenarioContext } from './context.js';

/**
 * 0. At the defaults, against the peer and the floor: Petrel as `npm start` runs it (SLOTS
 * left to the CPU count) against beanstalkd in the same run (in memory, and with its binlog
 * fsync'd after every write), and its light-load latencies against one fsync'd SQLite commit
 * on the same disk. Machines differ up to 2.5× in speed, so only the ratios are results.
 */

/**
 * Echo jobs run through a fresh cluster before its light load is measured, then a pause so
 * what they left behind (deferred commits, acks) has settled. The first few hundred jobs of a
 * new process run before V8 has compiled its hot paths (submit→ticket p50 was 25-45% higher
 * over the first 500 jobs than over the next 500 here); the floor's commit is timed after
 * warm-up commits too, and scenario 2 runs on the cluster scenario 1 warmed.
 */
const WARMUP_JOBS = 3000;
const SETTLE_MS = 1000;

/** beanstalkd's throughput, and its put latency at the light load's `arrivals`. */
interface PeerRuns extends PeerRun {
  readonly put: Summary;
  readonly cpu: JobCpu;
}

/** CPU per job over a measured closed loop: the system measured, and the load generator. */
interface JobCpu {
  readonly systemUs: number;
  readonly generatorUs: number;
}

/**
 * Runs `pass` twice, the same load each time, and measures the second with the CPU `pids` and
 * this process (the load generator) used: the first pass warms what a fresh process compiles
 * on its first jobs of a new shape (Petrel's batch paths under 768 pipelined jobs), so both
 * sides are measured as a long-running service would be.
 */
async function secondPass<R extends { jobs: number }>(
  pids: Record<string, number>,
  pass: () => Promise<R>,
): Promise<R & { cpu: JobCpu }> {
  await pass();
  const a = cpuSnapshot(pids);
  const run = await pass();
  const d = cpuDelta(a, cpuSnapshot(pids));
  const systemMs = Object.values(d.byName).reduce((sum, ms) => sum + ms, 0);
  const perJob = (ms: number) => (ms * 1000) / run.jobs;
  return { ...run, cpu: { systemUs: perJob(systemMs), generatorUs: perJob(d.ownMs) } };
}

async function beanstalk(
  ctx: ScenarioContext,
  fsyncEachWrite: boolean,
  arrivals: readonly number[],
): Promise<PeerRuns | null> {
  const path = beanstalkdPath();
  if (path === null) return null;
  const b = await startBeanstalkd(path, fsyncEachWrite);
  try {
    const { clients, depth, peerJobs } = ctx.opts;
    const mode = fsyncEachWrite ? '-f 0' : 'in memory';
    ctx.log(`peers: beanstalkd ${mode}, ${arrivals.length} puts at the light load's pacing`);
    const put = summarize(await beanstalkPaced(b.port, arrivals));
    ctx.log(`peers: beanstalkd ${mode}, ${peerJobs} jobs`);
    const run = await secondPass({ beanstalkd: b.pid }, () =>
      beanstalkClosedLoop(b.port, clients, depth, peerJobs),
    );
    return { ...run, put };
  } finally {
    await b.stop();
  }
}

export async function peers(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { clients, depth, peerJobs, latencyRate, latencyMs, nodes } = ctx.opts;
  const lightJobs = poissonArrivals(
    seededRandom(ctx.opts.seed + 11),
    latencyRate,
    latencyMs,
    echoJob,
  );
  const arrivals = lightJobs.map((j) => j.at);
  const memory = await beanstalk(ctx, false, arrivals);
  const synced = await beanstalk(ctx, true, arrivals);
  const cluster = await Cluster.start({
    label: `defaults-${ctx.durability}`,
    nodes,
    slots: 0,
    durability: ctx.durability,
    profileDir: ctx.opts.profileDir,
    proxyEnv: ctx.opts.proxyEnv,
    proxyMain: ctx.opts.build?.proxy,
    nodeMain: ctx.opts.build?.node,
  });
  let floor, pacedFloor, commitServer, ticket, result, run, seconds;
  try {
    ctx.log(`peers: Petrel at the defaults, ${WARMUP_JOBS} echo jobs to warm it up`);
    await closedLoop({
      ports: cluster.clientPorts,
      clients: 12,
      depth: 4,
      command: 'echo warm-up',
      warmupMs: 0,
      durationMs: 60_000,
      maxJobs: WARMUP_JOBS,
    });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    // the floor just before the light load, the cluster idle: on a shared machine the disk's
    // speed changes from one minute to the next, and the ratios compare the two
    ctx.log('peers: one fsync’d SQLite commit (WAL, synchronous=FULL), 500 samples');
    floor = measureCommitFloor();
    ctx.log('peers: the same commit at the light load’s pacing');
    pacedFloor = await measurePacedFloor(arrivals);
    ctx.log('peers: a bare Node server committing each line through the group commit, same pacing');
    commitServer = summarize(await measureCommitServer(arrivals));
    ctx.log(`peers: Petrel at the defaults, light load ${latencyRate}/s`);
    const light = await openLoop({
      ports: cluster.clientPorts,
      jobs: lightJobs,
      deadlineMs: latencyMs + 10_000,
      prewarmPerPort: 8,
      maxPerPort: 64,
    });
    ticket = summarize(light.ticketMs);
    result = summarize(light.resultMs);
    ctx.log(`peers: Petrel at the defaults, ${peerJobs} echo jobs, ${clients} × ${depth}, twice`);
    run = await secondPass(cluster.pids(), async () => {
      const r = await closedLoop({
        ports: cluster.clientPorts,
        clients,
        depth,
        command: 'echo x',
        warmupMs: 0,
        durationMs: 10 * 60_000,
        maxJobs: peerJobs,
      });
      return { ...r, jobs: r.completed };
    });
    seconds = run.activeMs / 1000;
    cluster.assertAlive();
  } finally {
    await cluster.stop();
  }
  const perSecond = run.completed / seconds;
  /** A latency as a multiple of the floor, against its target. */
  const vsFloor = (ms: number, most: number): Metric => ({
    label: '  ÷ floor',
    unit: '×',
    value: ms / floor.p50,
    target: { op: '<=', value: most },
    digits: 2,
  });
  const ratio = (peer: PeerRun | null) => (peer === null ? NaN : perSecond / peer.perSecond);
  const put = (peer: PeerRuns | null) => peer?.put.p50 ?? NaN;
  const metrics: Metric[] = [
    { label: 'fsync’d commit p50 (the floor)', unit: 'ms', value: floor.p50, digits: 2 },
    { label: 'submit→ticket p50', unit: 'ms', value: ticket.p50, digits: 2 },
    vsFloor(ticket.p50, 1.5),
    { label: 'fsync’d commit at that pacing, p50', unit: 'ms', value: pacedFloor.p50, digits: 2 },
    { label: '  ticket ÷ paced commit', unit: '×', value: ticket.p50 / pacedFloor.p50, digits: 2 },
    { label: 'beanstalkd -f 0 put p50, same pacing', unit: 'ms', value: put(synced), digits: 2 },
    { label: '  ticket ÷ that put', unit: '×', value: ticket.p50 / put(synced), digits: 2 },
    { label: 'beanstalkd in-memory put p50, same', unit: 'ms', value: put(memory), digits: 2 },
    {
      label: 'Node + Petrel’s group commit, same, p50',
      unit: 'ms',
      value: commitServer.p50,
      digits: 2,
    },
    { label: '  ticket ÷ that', unit: '×', value: ticket.p50 / commitServer.p50, digits: 2 },
    { label: 'submit→result p50', unit: 'ms', value: result.p50, digits: 2 },
    vsFloor(result.p50, 3),
    { label: 'submit→result p99', unit: 'ms', value: result.p99, digits: 2 },
    vsFloor(result.p99, 10),
    { label: 'fsync’d commit at that pacing, p99', unit: 'ms', value: pacedFloor.p99, digits: 2 },
    { label: 'jobs/s end to end (defaults)', unit: '/s', value: perSecond, digits: 0 },
    { label: 'beanstalkd in memory', unit: '/s', value: memory?.perSecond ?? NaN, digits: 0 },
    {
      label: '  Petrel ÷ beanstalkd',
      unit: '×',
      value: ratio(memory),
      target: { op: '>=', value: 1 },
      digits: 2,
    },
    {
      label: 'beanstalkd -f 0 (fsync each write)',
      unit: '/s',
      value: synced?.perSecond ?? NaN,
      digits: 0,
    },
    { label: '  Petrel ÷ beanstalkd -f 0', unit: '×', value: ratio(synced), digits: 2 },
    {
      label: 'CPU per job: Petrel (proxy + nodes)',
      unit: 'µs',
      value: run.cpu.systemUs,
      digits: 1,
    },
    { label: '  beanstalkd in memory', unit: 'µs', value: memory?.cpu.systemUs ?? NaN, digits: 1 },
    { label: '  load generator, Petrel', unit: 'µs', value: run.cpu.generatorUs, digits: 1 },
    {
      label: '  load generator, beanstalkd',
      unit: 'µs',
      value: memory?.cpu.generatorUs ?? NaN,
      digits: 1,
    },
  ];
  const notes: string[] = [];
  if (memory === null) {
    notes.push('peers: beanstalkd is not installed (apt-get install beanstalkd): no peer ratio');
  }
  const errors = Object.entries(run.errors);
  if (errors.length > 0)
    notes.push(`peers: errors ${errors.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  return {
    metrics,
    details: {
      floor,
      pacedFloor,
      commitServer,
      ticket,
      result,
      jobs: run.completed,
      seconds,
      cpu: run.cpu,
      beanstalkd: { memory, synced },
    },
    notes,
  };
}
