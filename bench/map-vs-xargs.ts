#!/usr/bin/env node
/**
 * `npm run bench:map`: `petrel map` against `xargs -P 2` on this machine, over the same 1,000
 * lines and the same short program (`echo {}`). Petrel runs a local cluster at npm start's
 * defaults (three nodes, SLOTS = CPU count, DURABILITY=fsync): `petrel map` (one job of 1,000
 * tasks on every free slot) and `petrel map -j 2` (the job's concurrency 2, as xargs). Every
 * output is checked to hold every line once; the medians, each one's ratio to xargs, the CPU
 * the proxy and the nodes spent per task (from /proc) and the machine's load are printed and
 * written to bench/results/map.json. MAP_TASKS, MAP_ROUNDS and MAP_PARALLEL change the run;
 * MAP_DURABILITY=relaxed runs the cluster without syncs; MAP_PROFILE=dir runs every process
 * under --cpu-prof and prints each one's top functions.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from './cluster.js';
import { cpuMs } from './proc-stats.js';
import { summarizeProfiles } from './profile-summary.js';

/** dist/, where this file runs from. */
const distDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PETREL = join(distDir, 'cli', 'main.js');
const RESULTS = join(distDir, '..', 'bench', 'results');
const TASKS = Number(process.env.MAP_TASKS ?? 1000);
const ROUNDS = Number(process.env.MAP_ROUNDS ?? 3);
/** xargs -P and petrel map -j: as many at once as this machine's 2 cores. */
const PARALLEL = Number(process.env.MAP_PARALLEL ?? 2);
const cpus = availableParallelism();
/** MAP_PROFILE=dir: every process (proxy, nodes, each petrel map) runs with --cpu-prof there. */
const PROFILE = process.env.MAP_PROFILE;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function timed(cmd: string, args: string[], input: string, env = process.env): Promise<Run> {
  const t0 = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr, ms: performance.now() - t0 }));
    child.stdin.end(input);
  });
}

function check(name: string, r: Run, lines: string[]): void {
  const got = r.stdout.split('\n').filter(Boolean).sort();
  const want = [...lines].sort();
  if (r.code !== 0 || got.length !== want.length || got.some((l, i) => l !== want[i])) {
    throw new Error(`${name}: exit ${r.code}, ${got.length} of ${want.length} lines\n${r.stderr}`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** The runs compared, each as the command line that reads the lines on stdin. */
function contenders(program: string[]): Array<{ name: string; cmd: string; args: string[] }> {
  const prof = (name: string) =>
    PROFILE === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=map-cli-${name}.cpuprofile`];
  const map = (extra: string[]) => [
    ...prof(extra.join('') || 'all'),
    PETREL,
    'map',
    ...extra,
    '--',
    ...program,
  ];
  return [
    {
      name: `xargs -P ${PARALLEL}`,
      cmd: 'xargs',
      args: ['-P', String(PARALLEL), '-I{}', ...program],
    },
    { name: 'petrel map', cmd: process.execPath, args: map([]) },
    {
      name: `petrel map -j ${PARALLEL}`,
      cmd: process.execPath,
      args: map(['-j', String(PARALLEL)]),
    },
  ];
}

async function main(): Promise<void> {
  const lines = Array.from({ length: TASKS }, (_, i) => `line-${i}`);
  const input = lines.join('\n') + '\n';
  const loadBefore = loadavg()[0] ?? 0;
  const cluster = await Cluster.start({
    label: 'map',
    nodes: 3,
    slots: 0,
    durability: process.env.MAP_DURABILITY === 'relaxed' ? 'relaxed' : 'fsync',
    nodeEnv: { EXEC_ALLOW: 'echo' },
    ...(PROFILE === undefined ? {} : { profileDir: PROFILE }),
  });
  const pids = cluster.pids();
  /** CPU ms so far of the proxy and of the nodes together, from /proc. */
  const clusterCpu = () => {
    let nodes = 0;
    for (const [name, pid] of Object.entries(pids)) if (name !== 'proxy') nodes += cpuMs(pid);
    return { proxy: cpuMs(pids.proxy ?? 0), nodes };
  };
  const env = { ...process.env, PETREL_ADDR: `127.0.0.1:${cluster.clientPorts[0]}` };
  const program = ['echo', '{}'];
  const runs = contenders(program);
  const results = new Map<string, number[]>(runs.map((r) => [r.name, []]));
  const cpu = new Map<string, Array<{ proxy: number; nodes: number }>>(
    runs.map((r) => [r.name, []]),
  );
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of runs) {
        const cpu0 = clusterCpu();
        const got = await timed(r.cmd, r.args, input, env);
        check(r.name, got, lines);
        results.get(r.name)?.push(got.ms);
        const cpu1 = clusterCpu();
        cpu.get(r.name)?.push({ proxy: cpu1.proxy - cpu0.proxy, nodes: cpu1.nodes - cpu0.nodes });
      }
    }
  } finally {
    await cluster.stop();
  }
  const base = median(results.get(runs[0]!.name) ?? []);
  const rows = [...results].map(([name, ms]) => ({
    name,
    medianMs: Math.round(median(ms)),
    tasksPerSecond: Math.round((TASKS / median(ms)) * 1000),
    vsXargs: Math.round((median(ms) / base) * 10) / 10,
    runsMs: ms.map(Math.round),
    /** CPU per task (ms) of the proxy and of the three nodes together, medians, from /proc. */
    proxyCpuMsPerTask: round2(median((cpu.get(name) ?? []).map((c) => c.proxy)) / TASKS),
    nodesCpuMsPerTask: round2(median((cpu.get(name) ?? []).map((c) => c.nodes)) / TASKS),
  }));
  const load = { before: round2(loadBefore), after: round2(loadavg()[0] ?? 0) };
  const report = { tasks: TASKS, rounds: ROUNDS, cpus, program: program.join(' '), load, rows };
  process.stdout.write(
    `${TASKS} tasks of \`${program.join(' ')}\`, ${cpus} CPUs, load average ${load.before} → ` +
      `${load.after}, median of ${ROUNDS}\n` +
      rows
        .map(
          (r) =>
            `${r.name.padEnd(18)} ${String(r.medianMs).padStart(7)} ms  ` +
            `${String(r.tasksPerSecond).padStart(5)} tasks/s  ${r.vsXargs}× xargs's time  ` +
            `CPU per task: proxy ${r.proxyCpuMsPerTask} ms, nodes ${r.nodesCpuMsPerTask} ms`,
        )
        .join('\n') +
      '\n',
  );
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'map.json'), JSON.stringify(report, null, 2) + '\n');
  if (PROFILE !== undefined) process.stdout.write(summarizeProfiles(PROFILE, 25) + '\n');
}

const round2 = (x: number) => Math.round(x * 100) / 100;

main().catch((err: unknown) => {
  process.stderr.write(`bench:map: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
