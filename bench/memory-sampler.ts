import type { Cluster } from './cluster.js';
import { getText } from './http-json.js';
import type { CurveSample, ProcessSample } from './memory-curve.js';
import { dirBytes, rssBytes } from './proc-stats.js';

/**
 * Reads every process of a cluster from outside: resident set from `/proc/<pid>/status`,
 * V8 heap used and the jobs it holds from its `/metrics` (the proxy's port, each node's
 * HTTP_PORT), and the size of its data directory.
 */

/** One sample's value of a series of a `/metrics` exposition (any labels); NaN when absent. */
export function seriesValue(metricsText: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metricsText);
  return m?.[1] === undefined ? NaN : Number(m[1]);
}

/** The V8 heap used, from a `/metrics` exposition; NaN when absent. */
export function heapUsedOf(metricsText: string): number {
  return seriesValue(metricsText, 'petrel_(?:proxy|node)_nodejs_heap_size_used_bytes');
}

/** Jobs held in memory: the proxy's live jobs, or a node's open tickets; NaN when absent. */
export function heldOf(metricsText: string): number {
  const live = seriesValue(metricsText, 'petrel_proxy_live_jobs');
  return Number.isNaN(live) ? seriesValue(metricsText, 'petrel_node_open_tickets') : live;
}

async function scrape(port: number | undefined): Promise<{ heapUsed: number; held: number }> {
  if (port === undefined) return { heapUsed: NaN, held: NaN };
  try {
    const text = await getText(port, '/metrics', 5000);
    return { heapUsed: heapUsedOf(text), held: heldOf(text) };
  } catch {
    // a busy process that did not answer in time leaves a gap, not a failure
    return { heapUsed: NaN, held: NaN };
  }
}

/** The processes' names, in table order: proxy first, then the nodes. */
export function processNames(cluster: Cluster): string[] {
  return ['proxy', ...cluster.nodes.map((n) => n.name)];
}

/** One sample of every process. */
export async function sampleCluster(
  cluster: Cluster,
  jobs: number,
  seconds: number,
): Promise<CurveSample> {
  const procs = [
    { name: 'proxy', pid: cluster.proxy.pid, port: cluster.proxyPort, dir: cluster.dataDirs.proxy },
    ...cluster.nodes.map((n, i) => ({
      name: n.name,
      pid: n.pid,
      port: cluster.httpPorts[i],
      dir: cluster.dataDirs.nodes[i] as string,
    })),
  ];
  const scraped = await Promise.all(procs.map((p) => scrape(p.port)));
  const byProcess: Record<string, ProcessSample> = {};
  procs.forEach((p, i) => {
    const { heapUsed, held } = scraped[i] ?? { heapUsed: NaN, held: NaN };
    byProcess[p.name] = { rss: rssBytes(p.pid), heapUsed, disk: dirBytes(p.dir), held };
  });
  return { seconds, jobs, byProcess };
}
