import http from 'node:http';
import type { RunContext } from './context.js';
import type { Cluster, Proc } from './processes.js';

/** Recovery times: the proxy's `/api/cluster` polled, and its log read, after a kill. */

export interface ApiCluster {
  nodes: Array<{ id: string; connected: boolean; outstanding: number }>;
  queue: { queued: number; assigned: number; running: number };
  totals: Record<string, number>;
  /** A proxy of a group: whether it leads. */
  group?: { role: 'leader' | 'follower' };
}

/** The proxy's `/api/cluster`, on a fresh connection (the proxy is killed now and then). */
export function getCluster(port: number, timeoutMs = 2000): Promise<ApiCluster> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/api/cluster', agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ApiCluster);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('GET /api/cluster timed out')));
    req.on('error', reject);
  });
}

/** When the proxy logged that `node` left (its log's own clock), from line `from` on. */
function leftAt(proxy: Proc, from: number, node: string): number | undefined {
  for (let i = from; i < proxy.lines.length; i++) {
    const l = proxy.lines[i] ?? '';
    if (!l.includes('"node left"') || !l.includes(`"node":"${node}"`)) continue;
    try {
      const t = (JSON.parse(l) as { time?: unknown }).time;
      const ms = typeof t === 'number' ? t : Date.parse(String(t));
      if (Number.isFinite(ms)) return ms;
    } catch {
      // not JSON: ignore the line
    }
  }
  return undefined;
}

/** Polls `/api/cluster` (and reads the proxy's log) after node `i` was killed. */
export async function measureNode(
  ctx: RunContext,
  cluster: Cluster,
  i: number,
  killedAt: number,
  logFrom: number,
): Promise<{ released?: number; rejoined?: number; detected?: number }> {
  const id = ctx.nodeId(i);
  const proxy = cluster.proxy;
  const m: { released?: number; rejoined?: number; detected?: number } = {};
  await ctx.poll(async () => {
    const joined = cluster.nodes[i]?.logged('joined the proxy') ?? false;
    const n = (await getCluster(cluster.proxyPort)).nodes.find((x) => x.id === id);
    const at = Date.now() - killedAt;
    if (n && !n.connected && n.outstanding === 0 && m.released === undefined) {
      m.released = at;
      ctx.event(`${id}: proxy released its jobs ${at} ms after the kill`);
    }
    if (n && n.connected && joined) {
      m.rejoined = at;
      ctx.event(`${id}: rejoined ${at} ms after the kill`);
    }
    return m.rejoined !== undefined;
  }, 30_000);
  const left = proxy ? leftAt(proxy, logFrom, id) : undefined;
  if (left !== undefined) m.detected = Math.max(0, left - killedAt);
  return m;
}
