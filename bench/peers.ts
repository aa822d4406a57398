import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { beanstalkClosedLoop, beanstalkdPath, startBeanstalkd, type PeerRun } from './beanstalk.js';
import { installCleanupHandlers, runCleanup } from './cleanup.js';
import { Cluster } from './cluster.js';
import { measureCommitFloor } from './fsync-floor.js';
import { closedLoop, openLoop } from './load.js';
import { stopAllChildren } from './processes.js';
import { summarize, type Summary } from './stats.js';
import { echoJob, poissonArrivals, seededRandom } from './workload.js';

/**
 * `npm run bench:peers`: Petrel at the defaults a user gets from `npm start` (three nodes,
 * SLOTS left to the CPU count, DURABILITY=fsync) against its peer and its floor, all in one
 * run on one machine, so only ratios are reported as results:
 *  - throughput against beanstalkd in memory and with an fsync per write (`-f 0`);
 *  - light-load latency against one fsync'd SQLite commit on the same disk.
 */

const { values: flags } = parseArgs({
  options: {
    jobs: { type: 'string', default: '30000' },
    clients: { type: 'string', default: '48' },
    depth: { type: 'string', default: '16' },
    nodes: { type: 'string', default: '3' },
    slots: { type: 'string', default: '0' },
    'latency-rate': { type: 'string', default: '200' },
    'latency-seconds': { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const num = (name: keyof typeof flags): number => {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} wants a number`);
  return n;
};
const jobs = num('jobs');
const clients = num('clients');
const depth = num('depth');
const log = (m: string): void => void process.stderr.write(`bench:peers: ${m}\n`);

interface PetrelRun {
  readonly throughput: PeerRun;
  readonly ticket: Summary;
  readonly result: Summary;
}

async function petrel(): Promise<PetrelRun> {
  const cluster = await Cluster.start({
    label: 'peers',
    nodes: num('nodes'),
    slots: num('slots'),
    durability: 'fsync',
  });
  try {
    const rate = num('latency-rate');
    const ms = num('latency-seconds') * 1000;
    log(`petrel: light load, ${rate} echo jobs/s for ${ms / 1000} s`);
    const planned = poissonArrivals(seededRandom(11), rate, ms, echoJob);
    const light = await openLoop({
      ports: cluster.clientPorts,
      jobs: planned,
      deadlineMs: ms + 10_000,
      prewarmPerPort: 8,
      maxPerPort: 64,
    });
    log(`petrel: ${jobs} echo jobs, ${clients} clients × ${depth} in flight`);
    const t0 = performance.now();
    const run = await closedLoop({
      ports: cluster.clientPorts,
      clients,
      depth,
      command: 'echo x',
      warmupMs: 0,
      durationMs: 10 * 60_000,
      maxJobs: jobs,
    });
    const seconds = (performance.now() - t0) / 1000;
    cluster.assertAlive();
    const errors = Object.values(run.errors).reduce((a, b) => a + b, 0);
    return {
      throughput: { jobs: run.completed, seconds, perSecond: run.completed / seconds, errors },
      ticket: summarize(light.ticketMs),
      result: summarize(light.resultMs),
    };
  } finally {
    await cluster.stop();
  }
}

async function beanstalk(fsyncEachWrite: boolean): Promise<PeerRun | null> {
  const path = beanstalkdPath();
  if (path === null) return null;
  const b = await startBeanstalkd(path, fsyncEachWrite);
  try {
    log(`beanstalkd ${fsyncEachWrite ? '-f 0 (fsync per write)' : 'in memory'}: ${jobs} jobs`);
    return await beanstalkClosedLoop(b.port, clients, depth, jobs);
  } finally {
    await b.stop();
  }
}

const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

async function main(): Promise<void> {
  installCleanupHandlers(() => stopAllChildren());
  log('one fsync’d SQLite commit (WAL, synchronous=FULL), 500 samples');
  const floor = measureCommitFloor();
  const memory = await beanstalk(false);
  const synced = await beanstalk(true);
  if (memory === null)
    log('beanstalkd is not installed (apt-get install beanstalkd): no peer ratios');
  const p = await petrel();
  const rows: Array<[string, string, string]> = [
    ['fsync’d commit p50 (the floor)', `${f2(floor.p50)} ms`, '1.00× floor'],
    [
      'submit→ticket p50',
      `${f2(p.ticket.p50)} ms`,
      `${f2(p.ticket.p50 / floor.p50)}× floor (target ≤ 1.5)`,
    ],
    [
      'submit→result p50',
      `${f2(p.result.p50)} ms`,
      `${f2(p.result.p50 / floor.p50)}× floor (target ≤ 3)`,
    ],
    [
      'submit→result p99',
      `${f2(p.result.p99)} ms`,
      `${f2(p.result.p99 / floor.p50)}× floor (target ≤ 10)`,
    ],
    ['Petrel jobs/s (fsync, defaults)', p.throughput.perSecond.toFixed(0), ''],
  ];
  if (memory !== null) {
    rows.push([
      'beanstalkd jobs/s, in memory',
      memory.perSecond.toFixed(0),
      `Petrel ${f2(p.throughput.perSecond / memory.perSecond)}× (target ≥ 1.0)`,
    ]);
  }
  if (synced !== null) {
    rows.push([
      'beanstalkd jobs/s, -f 0',
      synced.perSecond.toFixed(0),
      `Petrel ${f2(p.throughput.perSecond / synced.perSecond)}×`,
    ]);
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = [
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ` +
      `${jobs} jobs, ${clients} clients × ${depth}; Petrel ${num('nodes')} nodes, SLOTS ${num('slots') || 'default (CPU count)'}`,
    ...rows.map(([a, b, c]) => `${a.padEnd(width)}  ${b.padStart(10)}  ${c}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const errors = p.throughput.errors + (memory?.errors ?? 0) + (synced?.errors ?? 0);
  if (errors > 0) log(`errors during the runs: ${errors}`);
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const out = flags.out ?? join(repo, 'bench', 'results', 'peers.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ at: new Date().toISOString(), floor, petrel: p, beanstalkd: { memory, synced } }, null, 2)}\n`,
  );
  log(`wrote ${out}`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench:peers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAllChildren();
    runCleanup();
  });
