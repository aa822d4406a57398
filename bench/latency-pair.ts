#!/usr/bin/env node
/**
 * `npm run bench:pair -- <build dir> [<build dir>]`: light-load latency of two builds,
 * measured side by side in one run. Each build runs a cluster of its own at the defaults
 * (a proxy and three nodes, SLOTS = CPU count, DURABILITY=fsync); one Poisson stream of
 * `SUBMIT echo x` + `WAIT` jobs (PAIR_RATE jobs/s in all, PAIR_SECONDS long; PAIR_JOB another
 * command line than `echo x`, such as `sleep 5`) alternates
 * between them A B B A, each job on a connection with nothing else in flight while one of
 * the 8 a node is free, after PAIR_WARM jobs to warm both. With one directory, A is that
 * build and B this checkout.
 *
 * Runs of one build differ by ±15% from run to run on a shared machine, more than most
 * levers move a latency; jobs of the two builds interleaved within a run meet the same
 * machine, so their ratio holds still (two copies of one build: p50 0.97, blocks 0.92-1.03).
 * Prints each side's submit→ticket and submit→result percentiles, B ÷ A over the run, and the
 * range of B ÷ A over blocks of PAIR_BLOCK jobs a side.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from './cluster.js';
import { LineClient } from './line-client.js';
import { pacedRequests } from './paced.js';
import { paired, sideOf, type PairedFigure } from './pair-stats.js';
import { echoJob, poissonArrivals, seededRandom } from './workload.js';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RATE = Number(process.env.PAIR_RATE ?? 200);
const SECONDS = Number(process.env.PAIR_SECONDS ?? 30);
const WARM = Number(process.env.PAIR_WARM ?? 1000);
const BLOCK = Number(process.env.PAIR_BLOCK ?? 250);
/** What each job submits: `SUBMIT <JOB>`. */
const JOB = process.env.PAIR_JOB ?? echoJob().command;
/** Idle connections per node port: more than the jobs in flight at this rate. */
const POOL = 8;

const args = process.argv.slice(2).map((b) => resolve(b));
if (args.length < 1 || args.length > 2) {
  process.stderr.write('usage: npm run bench:pair -- <build dir> [<build dir>]\n');
  process.exit(2);
}
const builds = (args.length === 1 ? [args[0], here] : args) as [string, string];
const programs = (build: string) => ({
  proxyMain: join(build, 'dist', 'proxy', 'main.js'),
  nodeMain: join(build, 'dist', 'node', 'main.js'),
});
for (const build of builds) {
  const { proxyMain, nodeMain } = programs(build);
  if (!existsSync(proxyMain) || !existsSync(nodeMain)) {
    process.stderr.write(
      `${build} is not a built checkout of Petrel (no ${proxyMain}): run npm ci && npm run build there\n`,
    );
    process.exit(2);
  }
}

/** One side: its cluster and a pool of idle connections to each of its nodes. */
interface Side {
  readonly cluster: Cluster;
  readonly pools: LineClient[][];
  /** Connections with a job still in flight. */
  readonly busy: Set<LineClient>;
  next: number;
}

async function startSide(build: string, label: string): Promise<Side> {
  const cluster = await Cluster.start({
    label,
    nodes: 3,
    slots: 0,
    durability: 'fsync',
    ...programs(build),
  });
  const pools = await Promise.all(
    cluster.clientPorts.map((port) =>
      Promise.all(Array.from({ length: POOL }, () => LineClient.connect(port))),
    ),
  );
  return { cluster, pools, busy: new Set(), next: 0 };
}

/** The next node in turn, and on it a connection with no job in flight if there is one. */
function connection(side: Side): LineClient {
  const k = side.next++;
  const pool = side.pools[k % side.pools.length] as LineClient[];
  const first = Math.floor(k / side.pools.length);
  for (let j = 0; j < pool.length; j++) {
    const c = pool[(first + j) % pool.length] as LineClient;
    if (!side.busy.has(c)) return c;
  }
  return pool[first % pool.length] as LineClient;
}

/** Submits one job on `side` and waits for it; calls back with both times (ms). */
function job(side: Side, done: (ticketMs: number, resultMs: number) => void): void {
  const c = connection(side);
  side.busy.add(c);
  const end = (ticketMs: number, resultMs: number) => {
    side.busy.delete(c);
    done(ticketMs, resultMs);
  };
  const t0 = performance.now();
  c.send(`SUBMIT ${JOB}`, (r1) => {
    const t1 = performance.now();
    if (!r1.startsWith('OK ')) return end(NaN, NaN);
    c.send(`WAIT ${r1.slice(3)} 60000`, (r2) => {
      end(t1 - t0, r2.startsWith('OK ') ? performance.now() - t0 : NaN);
    });
  });
}

/** Sends job `i` at `at[i]` ms to side `sideOf(i)`; resolves with each side's times in order. */
async function run(sides: [Side, Side], at: readonly number[]) {
  const ticket: [number[], number[]] = [[], []];
  const result: [number[], number[]] = [[], []];
  await pacedRequests(at, (i, done) => {
    const s = sideOf(i);
    const slot = ticket[s].push(NaN) - 1;
    result[s].push(NaN);
    job(sides[s] as Side, (tMs, rMs) => {
      ticket[s][slot] = tMs;
      result[s][slot] = rMs;
      done();
    });
  });
  return { ticket, result };
}

const fmt = (f: PairedFigure) => {
  const lo = f.blockRatios[0] ?? NaN;
  const hi = f.blockRatios[f.blockRatios.length - 1] ?? NaN;
  return `A ${f.a.toFixed(2)} ms, B ${f.b.toFixed(2)} ms, B÷A ${f.ratio.toFixed(2)} (blocks ${lo.toFixed(2)}-${hi.toFixed(2)})`;
};

const started: Side[] = [];
try {
  for (const [i, build] of builds.entries()) {
    started.push(await startSide(build, i === 0 ? 'pair-a' : 'pair-b'));
  }
  const sides = started as [Side, Side];
  const arrivals = (ms: number, seed: number) =>
    poissonArrivals(seededRandom(seed), RATE, ms, echoJob).map((j) => j.at);
  process.stdout.write(`A ${builds[0]}\nB ${builds[1]}\nwarming up: ${WARM} jobs\n`);
  await run(sides, arrivals((WARM * 1000) / RATE, 1));
  process.stdout.write(`${RATE} jobs/s of \`${JOB}\` for ${SECONDS} s, alternating A B B A\n`);
  const r = await run(sides, arrivals(SECONDS * 1000, 2));
  for (const [name, times] of [
    ['submit→ticket', r.ticket],
    ['submit→result', r.result],
  ] as const) {
    for (const p of [50, 90, 99] as const) {
      process.stdout.write(`${name} p${p}: ${fmt(paired(times[0], times[1], p, BLOCK))}\n`);
    }
  }
  const unfinished = r.result.flat().filter((v) => Number.isNaN(v)).length;
  if (unfinished > 0) process.stdout.write(`unfinished or refused: ${unfinished}\n`);
} finally {
  for (const s of started) for (const pool of s.pools) for (const c of pool) c.close();
  await Promise.all(started.map((s) => s.cluster.stop()));
}
