#!/usr/bin/env node
/**
 * `npm run bench:map`: `petrel map` against `xargs -P` on this machine, over the same lines
 * and the same short program. Petrel runs a local cluster at npm start's defaults (three
 * nodes, SLOTS = CPU count, DURABILITY=fsync); xargs runs as many at once as there are CPUs.
 * Both outputs are checked to hold every line once; the table is printed and written to
 * bench/results/map.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from './cluster.js';

/** dist/, where this file runs from. */
const distDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PETREL = join(distDir, 'cli', 'main.js');
const RESULTS = join(distDir, '..', 'bench', 'results');
const TASKS = Number(process.env.MAP_TASKS ?? 1000);
const ROUNDS = Number(process.env.MAP_ROUNDS ?? 3);
const cpus = availableParallelism();

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

async function main(): Promise<void> {
  const lines = Array.from({ length: TASKS }, (_, i) => `line-${i}`);
  const input = lines.join('\n') + '\n';
  const cluster = await Cluster.start({
    label: 'map',
    nodes: 3,
    slots: 0,
    durability: 'fsync',
    nodeEnv: { EXEC_ALLOW: 'printf' },
  });
  const env = { ...process.env, PETREL_ADDR: `127.0.0.1:${cluster.clientPorts[0]}` };
  const program = ['printf', '%s\\n', '{}'];
  const results: Record<string, number[]> = { xargs: [], map: [], 'map --keep-order': [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const x = await timed('xargs', ['-P', String(cpus), '-I{}', ...program], input);
      check('xargs', x, lines);
      results.xargs!.push(x.ms);
      const m = await timed(process.execPath, [PETREL, 'map', '--', ...program], input, env);
      check('petrel map', m, lines);
      results.map!.push(m.ms);
      const k = await timed(
        process.execPath,
        [PETREL, 'map', '--keep-order', '--', ...program],
        input,
        env,
      );
      check('petrel map --keep-order', k, lines);
      if (k.stdout !== input) throw new Error('--keep-order: not in input order');
      results['map --keep-order']!.push(k.ms);
    }
  } finally {
    await cluster.stop();
  }
  const rows = Object.entries(results).map(([name, ms]) => ({
    name,
    medianMs: Math.round(median(ms)),
    tasksPerSecond: Math.round((TASKS / median(ms)) * 1000),
    runsMs: ms.map(Math.round),
  }));
  const report = { tasks: TASKS, rounds: ROUNDS, cpus, program: program.join(' '), rows };
  process.stdout.write(
    `${TASKS} tasks of \`${program.join(' ')}\`, ${cpus} CPUs, median of ${ROUNDS}\n` +
      rows
        .map(
          (r) =>
            `${r.name.padEnd(18)} ${String(r.medianMs).padStart(7)} ms  ${r.tasksPerSecond} tasks/s`,
        )
        .join('\n') +
      '\n',
  );
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'map.json'), JSON.stringify(report, null, 2) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:map: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
