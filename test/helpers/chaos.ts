import type { Test } from 'tap';
import {
  formatReport,
  runChaos,
  type ChaosOptions,
  type ChaosReport,
} from '../../bench/chaos-run.js';

/**
 * A chaos run as the suite runs it (relaxed durability, 150 jobs/s, a node killed about every
 * second, a fresh seed each time), its report written as comments of `t`.
 */
export async function suiteChaos(
  t: Test,
  options: Pick<ChaosOptions, 'jobs'> & Partial<ChaosOptions>,
): Promise<ChaosReport> {
  const report = await runChaos({
    durability: 'relaxed',
    rate: 150,
    killEveryMs: 1000,
    settleMs: 30_000,
    deadlineMs: 150_000,
    seed: Date.now() % 1_000_000,
    ...options,
  });
  for (const line of formatReport(report)) t.comment(line);
  return report;
}
