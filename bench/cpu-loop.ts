#!/usr/bin/env node
/**
 * `npm run bench:cpu [-- <build dir>...]`: CPU per job in each process of a warm cluster at
 * the defaults (a proxy and three nodes, SLOTS = CPU count, DURABILITY=fsync), under the peers
 * scenario's closed loop (48 clients, 16 `SUBMIT echo x` + `WAIT` each in flight). The loop
 * first runs CPU_WARM jobs (V8 compiles the batch paths), then CPU_ROUNDS rounds of CPU_JOBS,
 * each timed on its own: jobs/s and, read from /proc before and after, the CPU microseconds
 * per job of the proxy, each node and this load generator. Given build directories
 * (checkouts of Petrel, built), it measures each of them in turn, then this one, CPU_TURNS
 * times: so two builds compared are measured alternately, on the same machine, the same hour.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from './cluster.js';
import { closedLoop } from './load.js';
import { cpuMs, ownCpuMs } from './proc-stats.js';
import { summarizeProfiles } from './profile-summary.js';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WARM = Number(process.env.CPU_WARM ?? 30_000);
const JOBS = Number(process.env.CPU_JOBS ?? 60_000);
const ROUNDS = Number(process.env.CPU_ROUNDS ?? 2);
const TURNS = Number(process.env.CPU_TURNS ?? 1);
/** CPU_LOCAL_START=0: every job goes through the proxy (the nodes' LOCAL_START). */
const LOCAL_START = process.env.CPU_LOCAL_START;
/** CPU_JOB: the command line submitted (`echo x`; e.g. `sleep 1`). */
const JOB = process.env.CPU_JOB ?? 'echo x';
/** CPU_PROFILE=<dir>: every process runs with `--cpu-prof` writing there; a summary is printed. */
const PROFILE = process.env.CPU_PROFILE;

async function measure(build: string): Promise<void> {
  const cluster = await Cluster.start({
    label: 'cpu',
    nodes: 3,
    slots: 0,
    durability: 'fsync',
    proxyMain: join(build, 'dist', 'proxy', 'main.js'),
    nodeMain: join(build, 'dist', 'node', 'main.js'),
    nodeEnv: LOCAL_START === undefined ? undefined : { LOCAL_START },
    profileDir: PROFILE,
  });
  try {
    const run = (maxJobs: number) =>
      closedLoop({
        ports: cluster.clientPorts,
        clients: 48,
        depth: 16,
        command: JOB,
        warmupMs: 0,
        durationMs: 600_000,
        maxJobs,
      });
    await run(WARM);
    const pids: [string, number][] = [
      ['proxy', cluster.proxy.pid],
      ...cluster.nodes.map((n, i): [string, number] => [`node ${i + 1}`, n.pid]),
    ];
    for (let r = 0; r < ROUNDS; r++) {
      const before = pids.map(([, pid]) => cpuMs(pid));
      const ownBefore = ownCpuMs();
      const t0 = performance.now();
      const res = await run(JOBS);
      const seconds = (performance.now() - t0) / 1000;
      const perJob = (ms: number) => ((ms * 1000) / res.completed).toFixed(1);
      const used = pids.map(([, pid], i) => cpuMs(pid) - (before[i] as number));
      const each = pids.map(([name], i) => `${name} ${perJob(used[i] as number)}`).join(', ');
      const total = perJob(used.reduce((a, b) => a + b, 0));
      process.stdout.write(
        `${build}: ${(res.completed / seconds).toFixed(0)} jobs/s, CPU µs per job ${total}` +
          ` (${each}; load generator ${perJob(ownCpuMs() - ownBefore)})\n`,
      );
    }
  } finally {
    await cluster.stop();
  }
}

const builds = [...process.argv.slice(2).map((b) => resolve(b)), here];
for (let turn = 0; turn < TURNS; turn++) for (const build of builds) await measure(build);
if (PROFILE !== undefined) process.stdout.write(`\n${summarizeProfiles(PROFILE)}\n`);
