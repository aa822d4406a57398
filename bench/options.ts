import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Durability } from './cluster.js';

/** Benchmark flags: sizes and durations for a full run (~3 min) or `--quick` (~30 s). */

export const SCENARIOS = [
  'peers',
  'throughput',
  'latency',
  'balance',
  'seed',
  'scale',
  'memory',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What runs without --only: all but `memory`, which runs for tens of minutes. */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter((n) => n !== 'memory');

export interface BenchOptions {
  readonly quick: boolean;
  readonly only: readonly ScenarioName[];
  /** The first is the headline; others are extra columns. */
  readonly modes: readonly Durability[];
  readonly nodes: number;
  readonly seed: number;
  readonly out: string;
  readonly profileDir: string | undefined;
  /** The proxy program of an older build, run beside this one in the scale scenario. */
  readonly baselineProxy: string | undefined;
  /** Another build's programs, measured instead of this checkout's (--build). */
  readonly build: { readonly proxy: string; readonly node: string } | undefined;
  /** Proxy variables set on every cluster the run starts (--policy, --prefetch). */
  readonly proxyEnv: Readonly<Record<string, string>>;
  // 0. peers: jobs per run, Petrel and beanstalkd each, and measured rounds of the two in turn
  readonly peerJobs: number;
  readonly peerRounds: number;
  // 1. throughput
  readonly clients: number;
  readonly depth: number;
  readonly throughputSlots: number;
  readonly warmupMs: number;
  readonly throughputMs: number;
  readonly checkMs: number;
  // 2. latency
  readonly latencyRate: number;
  readonly latencyMs: number;
  // 3. and 4. balance, seed mode
  readonly balanceSlots: number;
  readonly balanceLoad: number;
  readonly meanSleepMs: number;
  readonly balanceMs: number;
  /** An unmeasured run of the same load first (a fresh process is slow until V8 compiles it). */
  readonly balanceWarmMs: number;
  readonly seedGraceMs: number;
  // 5. scale
  readonly fakeNodes: number;
  readonly fakeSlots: number;
  readonly fakeInfoPeriodMs: number;
  readonly scaleOrigins: number;
  readonly scaleWindow: number;
  readonly scaleMs: number;
  /** Rounds of each proxy in turn, when a baseline runs too. */
  readonly scaleRounds: number;
  // 6. memory
  readonly memoryJobs: number;
  readonly memoryMaxMs: number;
  readonly memoryTtlMs: number;
  readonly memorySampleMs: number;
}

export const USAGE = `usage: npm run bench -- [flags]

  --quick                 about 30 s instead of about 3 min
  --only <names>          comma list of: ${SCENARIOS.join(', ')}
                          (default: all but memory, which runs only when named)
  --durability <modes>    'relaxed' adds a relaxed column next to fsync; 'fsync,relaxed' likewise
  --peer-jobs <n>         peers: jobs for Petrel at its defaults and for beanstalkd (30000)
  --peer-rounds <n>       peers: measured rounds of each, taken in turn (5; quick 3)
  --clients <n>           throughput clients (48)         --depth <n>   jobs in flight per client (16)
  --seconds <s>           throughput window               --slots <n>   SLOTS per node for 1, 2, 6 (64)
  --latency-rate <n>      jobs/s for the latency run (200)
  --balance-seconds <s>   arrival window of 3 and 4       --balance-slots <n>  SLOTS for 3, 4 (4)
  --balance-warmup <s>    unmeasured load before 3 and 4 (5; quick 2; 0: none)
  --fake-nodes <n>        scale: simulated nodes (1000)   --scale-seconds <s>
  --jobs <n>              memory: echo jobs to finish (5000000; quick 50000)
  --memory-minutes <m>    memory: time bound of the run (120; quick 1.5)
  --memory-sample <s>     memory: seconds between samples (5; quick 1)
  --memory-ttl <ms>       RESULT_TTL for the memory run (30000; quick 3000)
  --seed <n>              workload random seed (1)        --out <file>  JSON report path
  --baseline <dir>        a checkout of an older Petrel, built: scale runs its proxy too, the
                          two loaded in turn, each for half of --scale-seconds a round
  --scale-rounds <n>      scale with a baseline: rounds of each proxy (4; quick 2)
  --build <dir>           a checkout of another Petrel, built: its proxy and nodes are the ones
                          measured, by this checkout's load generators, floor and peers
  --profile <dir>         run every process with --cpu-prof into <dir>, print the top functions
  --policy <name>         POLICY of the proxy (least-loaded)   --prefetch <n>  PREFETCH (1)
`;

function num(v: string | undefined, name: string, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`--${name} must be a number ≥ ${min}, got ${v}`);
  return n;
}

/** A whole number of at least 1 (`--name`), or `fallback` when not given. */
function count(v: string | undefined, name: string, fallback: number): number {
  const n = num(v, name, fallback, 1);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be a whole number, got ${v}`);
  return n;
}

/** Parses argv; throws with a message on bad flags. Returns null for --help. */
export function parseOptions(argv: readonly string[], defaultOut: string): BenchOptions | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      only: { type: 'string' },
      durability: { type: 'string' },
      nodes: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      baseline: { type: 'string' },
      build: { type: 'string' },
      policy: { type: 'string' },
      prefetch: { type: 'string' },
      'peer-jobs': { type: 'string' },
      'peer-rounds': { type: 'string' },
      clients: { type: 'string' },
      depth: { type: 'string' },
      seconds: { type: 'string' },
      slots: { type: 'string' },
      'latency-rate': { type: 'string' },
      'balance-seconds': { type: 'string' },
      'balance-slots': { type: 'string' },
      'balance-warmup': { type: 'string' },
      'fake-nodes': { type: 'string' },
      'scale-seconds': { type: 'string' },
      'scale-rounds': { type: 'string' },
      jobs: { type: 'string' },
      'memory-jobs': { type: 'string' },
      'memory-minutes': { type: 'string' },
      'memory-sample': { type: 'string' },
      'memory-ttl': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  const quick = values.quick ?? false;

  const only = (values.only ?? DEFAULT_SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown scenario '${name}' (known: ${SCENARIOS.join(', ')})`);
    }
  }
  const modes: Durability[] = ['fsync'];
  for (const m of (values.durability ?? '').split(',').map((s) => s.trim())) {
    if (m === '' || m === 'fsync') continue;
    if (m !== 'relaxed') throw new Error(`--durability: '${m}' is not fsync or relaxed`);
    if (!modes.includes('relaxed')) modes.push('relaxed');
  }
  const s = (v: string | undefined, name: string, full: number, fast: number): number =>
    num(v, name, quick ? fast : full, 0.1) * 1000;

  return {
    quick,
    only: SCENARIOS.filter((n) => only.includes(n)),
    modes,
    nodes: num(values.nodes, 'nodes', 3, 1),
    seed: num(values.seed, 'seed', 1),
    out: values.out ?? defaultOut,
    profileDir: values.profile,
    baselineProxy:
      values.baseline === undefined ? undefined : join(values.baseline, 'dist', 'proxy', 'main.js'),
    build:
      values.build === undefined
        ? undefined
        : {
            proxy: join(values.build, 'dist', 'proxy', 'main.js'),
            node: join(values.build, 'dist', 'node', 'main.js'),
          },
    proxyEnv: {
      ...(values.policy ? { POLICY: values.policy } : {}),
      ...(values.prefetch ? { PREFETCH: String(num(values.prefetch, 'prefetch', 1)) } : {}),
    },
    peerJobs: num(values['peer-jobs'], 'peer-jobs', quick ? 10_000 : 30_000, 1),
    peerRounds: count(values['peer-rounds'], 'peer-rounds', quick ? 3 : 5),
    clients: num(values.clients, 'clients', 48, 1),
    depth: num(values.depth, 'depth', 16, 1),
    throughputSlots: num(values.slots, 'slots', 64, 1),
    warmupMs: quick ? 1000 : 2000,
    throughputMs: s(values.seconds, 'seconds', 15, 3),
    checkMs: quick ? 1500 : 5000,
    latencyRate: num(values['latency-rate'], 'latency-rate', 200, 1),
    latencyMs: quick ? 2500 : 10_000,
    balanceSlots: num(values['balance-slots'], 'balance-slots', 4, 1),
    balanceLoad: 0.8,
    meanSleepMs: 50,
    balanceMs: s(values['balance-seconds'], 'balance-seconds', 15, 3),
    balanceWarmMs: num(values['balance-warmup'], 'balance-warmup', quick ? 2 : 5, 0) * 1000,
    seedGraceMs: quick ? 3000 : 10_000,
    fakeNodes: num(values['fake-nodes'], 'fake-nodes', 1000, 1),
    fakeSlots: 4,
    fakeInfoPeriodMs: 250,
    scaleOrigins: 100,
    scaleWindow: 40,
    scaleMs: s(values['scale-seconds'], 'scale-seconds', 15, 3),
    scaleRounds: count(values['scale-rounds'], 'scale-rounds', quick ? 2 : 4),
    // --memory-jobs is the older name of --jobs
    memoryJobs: num(values.jobs ?? values['memory-jobs'], 'jobs', quick ? 50_000 : 5_000_000, 1),
    memoryMaxMs: num(values['memory-minutes'], 'memory-minutes', quick ? 1.5 : 120, 0.1) * 60_000,
    memorySampleMs: s(values['memory-sample'], 'memory-sample', 5, 1),
    memoryTtlMs: num(values['memory-ttl'], 'memory-ttl', quick ? 3000 : 30_000, 1),
  };
}
