import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanupHandlers, runCleanup } from './cleanup.js';
import { Cluster, NODE_MAIN, PROXY_MAIN, type Durability } from './cluster.js';
import { closeHttp } from './http-json.js';
import { parseOptions, USAGE, type BenchOptions, type ScenarioName } from './options.js';
import { stopAllChildren } from './processes.js';
import { machineBusyOver } from './proc-stats.js';
import { summarizeProfiles } from './profile-summary.js';
import {
  renderTable,
  writeReport,
  type Outcome,
  type ScenarioResult,
  type ScenarioRow,
} from './report.js';
import { balance } from './scenarios/balance.js';
import { clusterOptions, withCluster, type ScenarioContext } from './scenarios/context.js';
import { latency } from './scenarios/latency.js';
import { peers } from './scenarios/peers.js';
import { memory } from './scenarios/memory.js';
import { scale } from './scenarios/scale.js';
import { seedMode } from './scenarios/seed-mode.js';
import { throughput } from './scenarios/throughput.js';

/**
 * `npm run bench`: starts its own clusters from `dist/`, runs the scenarios of issue 4 in
 * one invocation (so they compare on the same machine state), prints one table and writes
 * `bench/results/latest.json`.
 */

const TITLES: Record<ScenarioName, string> = {
  peers: '0. defaults vs beanstalkd and fsync',
  throughput: '1. throughput',
  latency: '2. latency, light load',
  balance: '3. balance at 80% load',
  seed: '4. seed mode (same load)',
  scale: '5. scale, fake nodes',
  memory: '6. memory',
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

async function timed(fn: () => Promise<ScenarioResult>): Promise<Outcome> {
  const start = performance.now();
  try {
    const result = await fn();
    return { ok: true, result, seconds: (performance.now() - start) / 1000 };
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`scenario failed: ${error}`);
    return { ok: false, error, seconds: (performance.now() - start) / 1000 };
  }
}

/** Runs every selected scenario in one durability mode. */
async function runMode(
  opts: BenchOptions,
  durability: Durability,
  out: Map<ScenarioName, Record<string, Outcome>>,
): Promise<void> {
  const ctx: ScenarioContext = { opts, durability, log: (m) => log(`[${durability}] ${m}`) };
  const record = (name: ScenarioName, o: Outcome): void => {
    const byMode = out.get(name) ?? {};
    byMode[durability] = o;
    out.set(name, byMode);
  };
  const want = (name: ScenarioName): boolean => opts.only.includes(name);

  if (want('peers')) record('peers', await timed(() => peers(ctx)));
  // 1 and 2 share one cluster: latency first, on a fresh cluster, then throughput
  if (want('latency') || want('throughput')) {
    let cluster: Cluster | null = null;
    try {
      cluster = await Cluster.start(clusterOptions(ctx, 'main', {}));
      const c = cluster;
      if (want('latency')) {
        record(
          'latency',
          await timed(async () => {
            const result = await latency(ctx, c);
            c.assertAlive();
            return result;
          }),
        );
      }
      if (want('throughput')) {
        record(
          'throughput',
          await timed(async () => {
            c.assertAlive();
            return throughput(ctx, c);
          }),
        );
      }
    } catch (err) {
      const failed: Outcome = { ok: false, error: (err as Error).message, seconds: 0 };
      log(`cluster failed: ${(err as Error).message}`);
      if (want('latency')) record('latency', failed);
      if (want('throughput')) record('throughput', failed);
    } finally {
      await cluster?.stop();
    }
  }
  if (want('balance')) {
    const balanceOpts = clusterOptions(ctx, 'balance', { slots: opts.balanceSlots });
    record(
      'balance',
      await timed(() =>
        withCluster(balanceOpts, (c) => balance(ctx, c, { graceMs: 5000, warmUp: true })),
      ),
    );
  }
  if (want('seed')) record('seed', await timed(() => seedMode(ctx)));
  if (want('scale')) record('scale', await timed(() => scale(ctx)));
  if (want('memory')) record('memory', await timed(() => memory(ctx)));
}

async function main(): Promise<number> {
  let opts: BenchOptions | null;
  try {
    opts = parseOptions(process.argv.slice(2), join(repoRoot, 'bench', 'results', 'latest.json'));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const mains = [PROXY_MAIN, NODE_MAIN, opts.baselineProxy, opts.build?.proxy, opts.build?.node];
  for (const main of mains.filter((m) => m !== undefined)) {
    if (!existsSync(main)) {
      process.stderr.write(
        `bench: ${main} is missing: run \`npm run build\` first (npm run bench does)\n`,
      );
      return 2;
    }
  }
  installCleanupHandlers(() => stopAllChildren());
  const idleBusy = await machineBusyOver(1000);
  const load = os.loadavg().map((l) => l.toFixed(2));
  if (idleBusy > 0.15) {
    log(
      `WARNING: the machine is ${(idleBusy * 100).toFixed(0)}% busy before the benchmark (load ${load.join(' ')}): results will be disturbed`,
    );
  }
  const started = new Date();
  log(
    `${opts.quick ? 'quick' : 'full'} run: ${opts.only.join(', ')}; durability ${opts.modes.join(', ')}; ${os.cpus().length} CPUs`,
  );
  const outcomes = new Map<ScenarioName, Record<string, Outcome>>();
  for (const mode of opts.modes) await runMode(opts, mode, outcomes);

  const rows: ScenarioRow[] = opts.only.map((name) => ({
    name,
    title: TITLES[name],
    byMode: outcomes.get(name) ?? {},
  }));
  const notes: string[] = [];
  if (opts.build)
    notes.push(`the cluster measured is another build's: ${opts.build.proxy}, ${opts.build.node}`);
  for (const row of rows)
    for (const o of Object.values(row.byMode)) if (o.ok) notes.push(...o.result.notes);

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `\nPetrel benchmark, ${started.toISOString()}, ${os.cpus().length} × ${cpu}, Node ${process.version}, ${opts.nodes} nodes\n\n`,
  );
  process.stdout.write(
    `machine ${(idleBusy * 100).toFixed(0)}% busy before the run (load average ${load.join(' ')})\n\n`,
  );
  process.stdout.write(`${renderTable(rows, opts.modes)}\n`);
  if (notes.length > 0) process.stdout.write(`\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  for (const row of rows)
    for (const o of Object.values(row.byMode))
      if (o.ok && o.result.text !== undefined) process.stdout.write(`\n${o.result.text}\n`);
  if (opts.profileDir !== undefined)
    process.stdout.write(`\n${summarizeProfiles(opts.profileDir)}\n`);

  writeReport(opts.out, {
    version: 1,
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine: {
      cpus: os.cpus().length,
      model: cpu,
      memoryMB: Math.round(os.totalmem() / 2 ** 20),
      kernel: os.release(),
      node: process.version,
      busyBeforeRun: idleBusy,
      loadAverageBeforeRun: os.loadavg(),
    },
    options: opts,
    notes,
    scenarios: Object.fromEntries(rows.map((r) => [r.name, { title: r.title, byMode: r.byMode }])),
  });
  process.stdout.write(`\nwritten ${opts.out}\n`);
  const failed = rows.some((r) => Object.values(r.byMode).some((o) => !o.ok));
  return failed ? 1 : 0;
}

main()
  .then((code) => {
    closeHttp();
    runCleanup();
    process.exit(code);
  })
  .catch((err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    runCleanup();
    process.exit(1);
  });
