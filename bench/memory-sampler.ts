import type { Cluster } from './cluster.js';
import { getText } from './http-json.js';
import type { CurveSample, ProcessSample } from './memory-curve.js';
import { dirBytes, rssBytes } from './proc-stats.js';

/**
 * Reads every process of a cluster from outside: resident set from `/proc/<pid>/status`,
 * V8 heap used from its `/metrics` (the proxy's port, each node's HTTP_PORT), and the size
 * of its data directory.
 */

const HEAP_USED = /^petrel_(?:proxy|node)_nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m;

/** The V8 heap used, from a `/metrics` exposition; NaN when absent. */
export function heapUsedOf(metricsText: string): number {
  const m = HEAP_USED.exec(metricsText);
  return m?.[1] === undefined ? NaN : Number(m[1]);
}

async function heapUsed(port: number | undefined): Promise<number> {
  if (port === undefined) return NaN;
  try {
    return heapUsedOf(await getText(port, '/metrics', 5000));
  } catch {
    return NaN; // a busy process that did not answer in time leaves a gap, not a failure
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
  const heaps = await Promise.all(procs.map((p) => heapUsed(p.port)));
  const byProcess: Record<string, ProcessSample> = {};
  procs.forEach((p, i) => {
    byProcess[p.name] = { rss: rssBytes(p.pid), heapUsed: heaps[i] ?? NaN, disk: dirBytes(p.dir) };
  });
  return { seconds, jobs, byProcess };
}
