import type { Cluster } from '../cluster.js';
import { LineClient } from '../line-client.js';
import { closedLoop } from '../load.js';
import { dirBytes, rssBytes } from '../proc-stats.js';
import type { ScenarioResult } from '../report.js';
import { clusterOptions, sleep, withCluster, type ScenarioContext } from './context.js';

/**
 * 6. Memory: proxy and node RSS before and after many finished jobs, with a short RESULT_TTL
 * so cleanup runs during the run. Cleanup is confirmed by the first ticket becoming unknown.
 */

const MB = 1024 * 1024;

interface Rss {
  readonly proxy: number;
  /** The largest node. */
  readonly node: number;
  readonly nodes: number[];
}

function rss(cluster: Cluster): Rss {
  const nodes = cluster.nodes.map((n) => rssBytes(n.pid));
  return { proxy: rssBytes(cluster.proxy.pid), node: Math.max(...nodes), nodes };
}

async function waitCleanedUp(port: number, ticket: string, timeoutMs: number): Promise<number> {
  const start = performance.now();
  const client = await LineClient.connect(port);
  try {
    while (performance.now() - start < timeoutMs) {
      const reply = await client.request(`STATUS ${ticket}`);
      if (reply.startsWith('ERR NOT_FOUND')) return performance.now() - start;
      await sleep(250);
    }
    return NaN;
  } finally {
    client.close();
  }
}

export async function memory(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { memoryJobs, memoryMaxMs, memoryTtlMs, clients, depth } = ctx.opts;
  const ttl = String(memoryTtlMs);
  const opts = clusterOptions(ctx, 'memory', {
    proxyEnv: { RESULT_TTL: ttl },
    nodeEnv: { RESULT_TTL: ttl },
  });
  return withCluster(opts, async (cluster) => {
    const base = { ports: cluster.clientPorts, clients, depth, command: 'echo x', warmupMs: 0 };
    const atStart = rss(cluster);
    ctx.log(
      `memory: warm-up, then ${memoryJobs.toLocaleString('en-US')} jobs (at most ${memoryMaxMs / 1000} s), RESULT_TTL=${ttl}`,
    );
    await closedLoop({ ...base, durationMs: 10_000, maxJobs: 20_000 });
    await sleep(500);
    const before = rss(cluster);
    let peak = { ...before };
    const sampler = setInterval(() => {
      const now = rss(cluster);
      peak = {
        proxy: Math.max(peak.proxy, now.proxy),
        node: Math.max(peak.node, now.node),
        nodes: now.nodes,
      };
    }, 500);
    let run;
    try {
      run = await closedLoop({ ...base, durationMs: memoryMaxMs, maxJobs: memoryJobs });
    } finally {
      clearInterval(sampler);
    }
    cluster.assertAlive();
    const firstPort = cluster.clientPorts[0] as number;
    // the oldest ticket of the run disappears when its TTL has passed and a sweep ran
    const cleanupMs =
      run.firstTicket === null
        ? NaN
        : await waitCleanedUp(firstPort, run.firstTicket, Math.max(15_000, 4 * memoryTtlMs));
    await sleep(1000);
    const after = rss(cluster);
    const dbProxy = dirBytes(cluster.dataDirs.proxy);
    const dbNodes = Math.max(...cluster.dataDirs.nodes.map((d) => dirBytes(d)));
    const notes: string[] = [];
    if (run.completed < memoryJobs) {
      notes.push(
        `memory: ${run.completed.toLocaleString('en-US')} of ${memoryJobs.toLocaleString('en-US')} jobs finished within ${memoryMaxMs / 1000} s`,
      );
    }
    if (Number.isNaN(cleanupMs))
      notes.push('memory: the first ticket was still known after the wait: no TTL cleanup seen');
    const limit = 32;
    return {
      metrics: [
        { label: 'finished jobs', unit: '', value: run.completed, digits: 0 },
        { label: 'proxy RSS before', unit: 'MB', value: before.proxy / MB, digits: 0 },
        { label: 'proxy RSS after', unit: 'MB', value: after.proxy / MB, digits: 0 },
        {
          label: 'proxy RSS growth',
          unit: 'MB',
          value: (after.proxy - before.proxy) / MB,
          target: { op: '<=', value: limit },
          digits: 0,
        },
        { label: 'node RSS before (max)', unit: 'MB', value: before.node / MB, digits: 0 },
        { label: 'node RSS after (max)', unit: 'MB', value: after.node / MB, digits: 0 },
        {
          label: 'node RSS growth',
          unit: 'MB',
          value: (after.node - before.node) / MB,
          target: { op: '<=', value: limit },
          digits: 0,
        },
        { label: 'data on disk proxy', unit: 'MB', value: dbProxy / MB, digits: 1 },
        { label: 'data on disk node (max)', unit: 'MB', value: dbNodes / MB, digits: 1 },
        { label: 'TTL cleanup seen after', unit: 's', value: cleanupMs / 1000, digits: 1 },
      ],
      details: {
        ttlMs: memoryTtlMs,
        atStart,
        before,
        peak,
        after,
        dbBytes: { proxy: dbProxy, nodeMax: dbNodes },
        run: { ...run, latency: undefined },
        throughput: run.completed / (run.windowMs / 1000),
      },
      notes,
    };
  });
}
