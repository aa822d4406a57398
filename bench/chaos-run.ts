import { DEFAULTS, type ChaosOptions, type Resolved } from './chaos/options.js';
import type { ChaosReport } from './chaos/report.js';
import { ChaosRun } from './chaos/run.js';

/**
 * The chaos run: a real proxy and real nodes (`dist/*\/main.js`), jobs submitted through
 * several client connections, while nodes are `kill -9`'d and restarted at once (same
 * DATA_DIR, NODE_ID and client port) and the proxy is killed and restarted once (same port
 * and DATA_DIR). At the end every ticket ever returned must have exactly one terminal result,
 * `done`, and two nodes must give the same JSON for it.
 */

export type { ChaosOptions, Durability } from './chaos/options.js';
export { formatReport, type ChaosReport, type Spread } from './chaos/report.js';

/**
 * Runs the chaos scenario and reports what it found. Never throws for lost jobs (they are in
 * the report); throws when the run itself could not be carried out (cluster did not start,
 * deadline passed), after killing every process and keeping the logs.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const o: Resolved = { ...DEFAULTS, ...options };
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new Error('jobs must be a positive integer');
  const run = new ChaosRun(o);
  let report: ChaosReport | undefined;
  try {
    report = await run.execute();
    return report;
  } catch (err) {
    const where = o.keep === 'never' ? '' : ` (logs kept in ${run.dir}/logs)`;
    throw new Error(`${err instanceof Error ? err.message : String(err)}${where}`, { cause: err });
  } finally {
    await run.close(report ? report.keptDir !== null : o.keep !== 'never');
  }
}
