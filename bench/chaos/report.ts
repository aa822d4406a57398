import { POLL_MS } from './context.js';
import type { Resolved } from './options.js';

/** What a chaos run found, and the lines `npm run chaos` prints for it. */

/** Median and maximum of some durations. */
export interface Spread {
  readonly count: number;
  readonly medianMs: number | null;
  readonly maxMs: number | null;
}

export interface ChaosReport {
  readonly options: Omit<Resolved, 'progress' | 'signal'>;
  readonly jobs: number;
  /** Tickets returned to the clients (one per job). */
  readonly tickets: number;
  /** Jobs refused (a wrong result each) and jobs waiting for one, never submitted. */
  readonly refused: number;
  /** Submissions sent again because their node died (or its link did) before replying. */
  readonly resubmits: number;
  readonly done: number;
  /**
   * Tickets without exactly one result in the state their job must end in (`done`, or for the
   * `system` mix `failed` or `cancelled` where the job promises that): unfinished or unknown.
   */
  readonly lost: number;
  /** Tickets whose result JSON differs between their origin node and another node. */
  readonly inconsistent: number;
  /**
   * Results in their state but not as their job promises: an echo's output, the failed runs of
   * a retried job, a delayed job's start, a job's tasks, one ticket per key, a job started
   * before the one it waits for.
   */
  readonly wrong: number;
  /** Tickets found in their job's end state, by the job's kind (`echo`, `retry`, ...). */
  readonly ended: Record<string, number>;
  /** The wrong results above, by the job's kind. */
  readonly wrongByKind: Record<string, number>;
  /** A few of the tickets above, with what was wrong. */
  readonly examples: string[];
  /** The proxy's `/api/cluster` totals at the end. */
  readonly totals: Record<string, number>;
  readonly nodeKills: number;
  readonly proxyKills: number;
  /** Node kill until the proxy released its jobs (disconnected, nothing outstanding) or it rejoined. */
  readonly nodeRecovery: Spread;
  /** Node kill until the proxy logged "node left" for it (by the proxy's own clock). */
  readonly nodeDetect: Spread;
  /** Node kill until the restarted node is connected to the proxy again. */
  readonly nodeRejoin: Spread;
  /** Proxy kill until the restarted proxy shows every node connected. */
  readonly proxyRecovery: Spread;
  /** Proxy kill until the restarted proxy listens (the rest of its recovery is the nodes' reconnect). */
  readonly proxyRestart: Spread;
  /** Per ticket: submitted until finished, as its result says. */
  readonly latency: Spread & { readonly slowest: string | null };
  readonly submitMs: number;
  /** First submission until the last ticket finished (its result's finishedAt). */
  readonly runMs: number;
  /** Jobs per second over `runMs`. */
  readonly throughput: number;
  /** Things that must not happen whatever the load: unexpected exits, hangs, refusals. */
  readonly problems: string[];
  /** The kept directory (data and `logs/`), or null when it was removed. */
  readonly keptDir: string | null;
}

export function spread(values: number[]): Spread {
  if (values.length === 0) return { count: 0, medianMs: null, maxMs: null };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median =
    s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { count: s.length, medianMs: median, maxMs: s[s.length - 1] as number };
}

const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v)} ms`);

/** The report as the lines `npm run chaos` prints (also used by the test's comments). */
export function formatReport(r: ChaosReport): string[] {
  const t = (k: string): number => r.totals[k] ?? 0;
  const lines = [
    `jobs ${r.jobs} (${r.options.mix} mix${r.options.group ? ', a group of 3 proxies' : ''}, DURABILITY=${r.options.durability}, ${r.options.nodes} nodes x ${r.options.slots} slots, seed ${r.options.seed})`,
    `tickets returned ${r.tickets}${r.refused ? ` (${r.refused} jobs refused, or waiting for one)` : ''}; submissions retried after their node died ${r.resubmits}, of which ${Math.max(0, t('submitted') - r.tickets)} had been committed (orphan tickets: run, never promised)`,
    `lost ${r.lost} (tickets without exactly one result in their job's end state); inconsistent between nodes ${r.inconsistent}; wrong results ${r.wrong}`,
    `wrong results by kind: ${
      Object.entries(r.wrongByKind)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }`,
    `in their end state, by kind: ${Object.entries(r.ended)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `duplicate runs ${t('duplicates')}; requeued ${t('requeued')}; proxy submitted ${t('submitted')} done ${t('done')} failed ${t('failed')} LOST ${t('lost')}`,
    `kills: ${r.nodeKills} nodes (kill -9 every ~${r.options.killEveryMs} ms, restarted at once), ${r.proxyKills} proxy`,
    `node recovery (kill -> proxy released its jobs or it rejoined): median ${ms(r.nodeRecovery.medianMs)}, max ${ms(r.nodeRecovery.maxMs)} over ${r.nodeRecovery.count}`,
    `node loss seen (kill -> proxy logged "node left", its clock): median ${ms(r.nodeDetect.medianMs)}, max ${ms(r.nodeDetect.maxMs)} over ${r.nodeDetect.count}`,
    `node rejoin (kill -> restarted node connected again): median ${ms(r.nodeRejoin.medianMs)}, max ${ms(r.nodeRejoin.maxMs)}`,
    `proxy recovery (kill -> restarted proxy shows every node connected): median ${ms(r.proxyRecovery.medianMs)}, max ${ms(r.proxyRecovery.maxMs)} over ${r.proxyRecovery.count}`,
    `proxy restart (kill -> new proxy listening): ${ms(r.proxyRestart.maxMs)}; the rest is the nodes reconnecting`,
    `ticket latency (submitted -> finished, from its result): median ${ms(r.latency.medianMs)}, max ${ms(r.latency.maxMs)}`,
    `  slowest: ${r.latency.slowest ?? '-'}`,
    `throughput ${r.throughput} jobs/s (first submit -> last ticket finished: ${(r.runMs / 1000).toFixed(1)} s; submitting took ${(r.submitMs / 1000).toFixed(1)} s)`,
    `times are polled from /api/cluster every ${POLL_MS} ms, so they include up to one poll and one HTTP request`,
  ];
  for (const e of r.examples) lines.push(`  ticket: ${e}`);
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  if (r.keptDir) lines.push(`data and logs kept in ${r.keptDir}`);
  return lines;
}
