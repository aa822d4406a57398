import {
  beanstalkClosedLoop,
  beanstalkdPath,
  beanstalkPaced,
  startBeanstalkd,
  type Beanstalkd,
} from '../beanstalk.js';
import { Cluster } from '../cluster.js';
import { measureCommitFloor, measurePacedFloor } from '../fsync-floor.js';
import { measureCommitServer } from '../commit-floor.js';
import { closedLoop, openLoop, type ErrorCounts } from '../load.js';
import { alternateRounds, type RoundFigures, type Side } from '../peer-rounds.js';
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

/** beanstalkd -f 0's throughput (one measured pass after a warm one), and its put latency. */
interface SyncedPeer {
  readonly perSecond: number;
  readonly jobs: number;
  readonly cpu: RoundFigures['cpu'];
  readonly put: Summary;
}

/** beanstalkd started, and its put latency at the light load's `arrivals`; null if absent. */
async function startPeer(
  ctx: ScenarioContext,
  fsyncEachWrite: boolean,
  arrivals: readonly number[],
): Promise<{ b: Beanstalkd; put: Summary } | null> {
  const path = beanstalkdPath();
  if (path === null) return null;
  const b = await startBeanstalkd(path, fsyncEachWrite);
  try {
    const mode = fsyncEachWrite ? '-f 0' : 'in memory';
    ctx.log(`peers: beanstalkd ${mode}, ${arrivals.length} puts at the light load's pacing`);
    return { b, put: summarize(await beanstalkPaced(b.port, arrivals)) };
  } catch (err) {
    await b.stop();
    throw err;
  }
}

/** beanstalkd with its binlog fsync'd after every write: paced puts, then its closed loop. */
async function syncedPeer(
  ctx: ScenarioContext,
  arrivals: readonly number[],
): Promise<SyncedPeer | null> {
  const peer = await startPeer(ctx, true, arrivals);
  if (peer === null) return null;
  try {
    const { clients, depth, peerJobs } = ctx.opts;
    ctx.log(`peers: beanstalkd -f 0, ${peerJobs} jobs, twice (the second measured)`);
    const alone: Side = {
      pids: { beanstalkd: peer.b.pid },
      pass: () => beanstalkClosedLoop(peer.b.port, clients, depth, peerJobs),
    };
    const { perSecond, jobs, cpu } = await alternateRounds(alone, undefined, 1, () => {});
    return { perSecond, jobs, cpu, put: peer.put };
  } finally {
    await peer.b.stop();
  }
}

export async function peers(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { clients, depth, peerJobs, peerRounds, latencyRate, latencyMs, nodes } = ctx.opts;
  const lightJobs = poissonArrivals(
    seededRandom(ctx.opts.seed + 11),
    latencyRate,
    latencyMs,
    echoJob,
  );
  const arrivals = lightJobs.map((j) => j.at);
  const synced = await syncedPeer(ctx, arrivals);
  // in memory, it stays up until its rounds beside Petrel's are done
  const memory = await startPeer(ctx, false, arrivals);
  let floor, pacedFloor, commitServer, commitServers, ticket, result, rounds: RoundFigures;
  const errors: ErrorCounts = {};
  try {
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
      ctx.log(
        'peers: a bare Node server committing each line through the group commit, same pacing',
      );
      commitServer = summarize(await measureCommitServer(arrivals));
      ctx.log(`peers: ${nodes} such servers, the requests spread over them as jobs over the nodes`);
      commitServers = summarize(await measureCommitServer(arrivals, nodes));
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
      const petrel: Side = {
        pids: cluster.pids(),
        pass: async () => {
          const r = await closedLoop({
            ports: cluster.clientPorts,
            clients,
            depth,
            command: 'echo x',
            warmupMs: 0,
            durationMs: 10 * 60_000,
            maxJobs: peerJobs,
          });
          for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
          return { jobs: r.completed, seconds: r.activeMs / 1000 };
        },
      };
      const peer: Side | undefined = memory
        ? {
            pids: { beanstalkd: memory.b.pid },
            pass: () => beanstalkClosedLoop(memory.b.port, clients, depth, peerJobs),
          }
        : undefined;
      ctx.log(
        `peers: ${peerJobs} echo jobs, ${clients} × ${depth}, ${peerRounds} rounds of Petrel` +
          (peer ? ' and beanstalkd in memory in turn' : ''),
      );
      rounds = await alternateRounds(petrel, peer, peerRounds, (l) => ctx.log(`peers: ${l}`));
      cluster.assertAlive();
    } finally {
      await cluster.stop();
    }
  } finally {
    await memory?.b.stop();
  }
  const { perSecond, cpu } = rounds;
  /** A latency as a multiple of the floor, against its target. */
  const vsFloor = (ms: number, most: number): Metric => ({
    label: '  ÷ floor',
    unit: '×',
    value: ms / floor.p50,
    target: { op: '<=', value: most },
    digits: 2,
  });
  const put = (peer: { put: Summary } | null) => peer?.put.p50 ?? NaN;
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
    {
      label: `${nodes} such servers, one a node, p50`,
      unit: 'ms',
      value: commitServers.p50,
      digits: 2,
    },
    { label: '  ticket ÷ those', unit: '×', value: ticket.p50 / commitServers.p50, digits: 2 },
    { label: 'submit→result p50', unit: 'ms', value: result.p50, digits: 2 },
    vsFloor(result.p50, 3),
    { label: 'submit→result p99', unit: 'ms', value: result.p99, digits: 2 },
    vsFloor(result.p99, 10),
    { label: 'fsync’d commit at that pacing, p99', unit: 'ms', value: pacedFloor.p99, digits: 2 },
    { label: 'jobs/s end to end (defaults)', unit: '/s', value: perSecond, digits: 0 },
    { label: 'beanstalkd in memory', unit: '/s', value: rounds.peerPerSecond, digits: 0 },
    {
      label: '  Petrel ÷ beanstalkd (median of rounds)',
      unit: '×',
      value: rounds.ratio,
      target: { op: '>=', value: 1 },
      digits: 2,
    },
    {
      label: 'beanstalkd -f 0 (fsync each write)',
      unit: '/s',
      value: synced?.perSecond ?? NaN,
      digits: 0,
    },
    {
      label: '  Petrel ÷ beanstalkd -f 0',
      unit: '×',
      value: perSecond / (synced?.perSecond ?? NaN),
      digits: 2,
    },
    { label: 'CPU per job: Petrel (proxy + nodes)', unit: 'µs', value: cpu.systemUs, digits: 1 },
    { label: '  beanstalkd in memory', unit: 'µs', value: rounds.peerCpu.systemUs, digits: 1 },
    { label: '  load generator, Petrel', unit: 'µs', value: cpu.generatorUs, digits: 1 },
    {
      label: '  load generator, beanstalkd',
      unit: 'µs',
      value: rounds.peerCpu.generatorUs,
      digits: 1,
    },
  ];
  const notes: string[] = [];
  if (memory === null) {
    notes.push('peers: beanstalkd is not installed (apt-get install beanstalkd): no peer ratio');
  }
  if (rounds.ratios.length > 0) {
    const each = rounds.ratios.map((r) => r.toFixed(2)).join(', ');
    notes.push(`peers: Petrel ÷ beanstalkd in memory, round by round: ${each}`);
  }
  const failed = Object.entries(errors);
  if (failed.length > 0)
    notes.push(`peers: errors ${failed.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  return {
    metrics,
    details: {
      floor,
      pacedFloor,
      commitServer,
      commitServers,
      ticket,
      result,
      jobs: rounds.jobs,
      seconds: rounds.seconds,
      cpu,
      rounds: {
        ratios: rounds.ratios,
        peerPerSecond: rounds.peerPerSecond,
        peerCpu: rounds.peerCpu,
      },
      beanstalkd: { memory: memory && { put: memory.put }, synced },
    },
    notes,
  };
}
