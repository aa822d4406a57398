import type { Command } from 'commander';
import {
  action,
  common,
  duration,
  out,
  outText,
  withClient,
  type CommonOptions,
} from '../context.js';

interface TopOptions extends CommonOptions {
  interval: number;
  once?: boolean;
}

interface NodeRow {
  id: string;
  connected: boolean;
  slots: number;
  queued: number;
  running: number;
  done?: number;
}
interface Cluster {
  time: number;
  policy?: string;
  queue?: { queued: number; assigned: number; running: number };
  totals?: Record<string, number>;
  nodes?: NodeRow[];
}

export function register(program: Command): void {
  common(
    program
      .command('top')
      .description('a live view of the nodes, their queues and the rate jobs finish')
      .option(
        '--interval <duration>',
        'refresh period (ms, or 2s, ...)',
        duration('--interval', 100),
        1000,
      )
      .option('--once', 'print one view and exit (the default when not on a terminal)'),
  ).action(
    action(async (opts: TopOptions) =>
      withClient(opts, async (c) => {
        const live = !opts.once && !opts.json && process.stdout.isTTY;
        let previous: Cluster | undefined;
        let stop = false;
        process.once('SIGINT', () => (stop = true));
        do {
          const stats = await c.stats();
          const cluster = (stats.cluster ?? null) as Cluster | null;
          if (opts.json) out(JSON.stringify(stats));
          else {
            const text = render(stats.node as Record<string, unknown>, cluster, previous);
            outText(live ? `\x1b[H\x1b[2J${text}\n` : `${text}\n`);
          }
          previous = cluster ?? undefined;
          if (live) await new Promise((r) => setTimeout(r, opts.interval));
        } while (live && !stop);
      }),
    ),
  );
}

/** The view: the cluster line, then one row per node with its rate since the last view. */
export function render(
  self: Record<string, unknown>,
  cluster: Cluster | null,
  previous: Cluster | undefined,
): string {
  if (!cluster) {
    return `node ${String(self.id)}: the proxy does not answer (local fallback: ${String(self.localFallback)})`;
  }
  const secs = previous ? (cluster.time - previous.time) / 1000 : 0;
  const rate = (now = 0, before?: number) =>
    secs > 0 && before !== undefined ? ((now - before) / secs).toFixed(1) : '-';
  const q = cluster.queue ?? { queued: 0, assigned: 0, running: 0 };
  const totals = Object.entries(cluster.totals ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join('  ');
  const lines = [
    `petrel  ${new Date(cluster.time).toISOString()}  policy ${cluster.policy ?? '?'}  via ${String(self.id)}`,
    `queue   ${q.queued} queued  ${q.assigned} assigned  ${q.running} running`,
    `totals  ${totals}`,
    '',
  ];
  const rows: unknown[][] = [['NODE', 'UP', 'SLOTS', 'RUNNING', 'QUEUED', 'DONE', 'DONE/S']];
  const before = new Map((previous?.nodes ?? []).map((n) => [n.id, n]));
  for (const n of cluster.nodes ?? []) {
    rows.push([
      n.id,
      n.connected ? 'yes' : 'no',
      n.slots,
      n.running,
      n.queued,
      n.done ?? '-',
      rate(n.done, before.get(n.id)?.done),
    ]);
  }
  const width = Math.max(8, ...rows.map((r) => String(r[0]).length)) + 2;
  for (const r of rows) {
    lines.push(
      r
        .map((c, i) => String(c).padEnd(i === 0 ? width : 9))
        .join('')
        .trimEnd(),
    );
  }
  return lines.join('\n');
}
