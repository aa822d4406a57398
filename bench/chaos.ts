import { parseArgs } from 'node:util';
import { runChaos, formatReport, type Durability } from './chaos-run.js';
import { installCleanupHandlers } from './cleanup.js';

/**
 * `npm run chaos -- [--jobs N] [--mix plain|system] [--group] [--durability fsync|relaxed] [--kill-every ms] [--rate n]
 * [--slots n] [--seed n] [--keep]`: kills nodes and the proxy under load and counts what was
 * lost. Exits 1 when anything was lost or answered differently by two nodes.
 */

const USAGE = `usage: npm run chaos -- [options]
  --jobs N             jobs to submit (default 20000)
  --mix M              plain (sleep and echo jobs) | system (also delays, keys, retries,
                       dependencies, cancels, jobs of tasks and workers, each held to its
                       promise) (default plain)
  --group              three proxies in a group over etcd; the leader is the proxy killed
  --durability D       fsync | relaxed (default fsync)
  --kill-every MS      mean time between kills (default 1000)
  --rate N             submissions per second, 0 for as fast as possible (default 0)
  --slots N            slots per node (default 4)
  --seed N             seed of the job mix and kill order (default: time)
  --keep               keep data directories and logs even when nothing went wrong`;

function positive(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string' },
      mix: { type: 'string' },
      group: { type: 'boolean' },
      durability: { type: 'string' },
      'kill-every': { type: 'string' },
      rate: { type: 'string' },
      slots: { type: 'string' },
      seed: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const durability = values.durability ?? 'fsync';
  if (durability !== 'fsync' && durability !== 'relaxed') {
    throw new Error('--durability must be fsync or relaxed');
  }
  const mix = values.mix ?? 'plain';
  if (mix !== 'plain' && mix !== 'system') throw new Error('--mix must be plain or system');
  const controller = new AbortController();
  installCleanupHandlers(async () => controller.abort());
  const report = await runChaos({
    jobs: positive('jobs', values.jobs, 20_000),
    mix,
    group: values.group ?? false,
    durability: durability as Durability,
    killEveryMs: positive('kill-every', values['kill-every'], 1000, 50),
    rate: positive('rate', values.rate, 0, 0),
    slots: positive('slots', values.slots, 4),
    seed: positive('seed', values.seed, Date.now() % 1_000_000, 0),
    keep: values.keep ? 'always' : 'on-failure',
    progress: (line) => process.stderr.write(`chaos: ${line}\n`),
    signal: controller.signal,
  });
  for (const line of formatReport(report)) process.stdout.write(`${line}\n`);
  return report.lost > 0 || report.inconsistent > 0 || report.wrong > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const text = err instanceof Error ? err.message : String(err);
    const usage =
      text.startsWith('--') || /ERR_PARSE_ARGS/.test(String((err as { code?: unknown }).code));
    process.stderr.write(`chaos: ${text}\n${usage ? `${USAGE}\n` : ''}`);
    process.exit(2);
  },
);
