import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LineClient } from '../line-client.js';
import { closedLoop } from '../load.js';
import { curveCsv, renderCurve, verdict, verdictLine, type CurveSample } from '../memory-curve.js';
import { processNames, sampleCluster } from '../memory-sampler.js';
import type { ScenarioResult } from '../report.js';
import { clusterOptions, sleep, withCluster, type ScenarioContext } from './context.js';

/**
 * 6. Memory over a long run: `--jobs` echo jobs through pipelining clients while every
 * process's RSS, V8 heap and data directory are sampled every few seconds; the curve (jobs
 * done → RSS per process), the growth over the last half in MiB per million jobs, and a CSV
 * of every sample. RESULT_TTL is short so results expire during the run, as they would over
 * days at the default; cleanup is confirmed by the first ticket becoming unknown, and the jobs
 * the processes hold in memory (the proxy's live jobs, the nodes' open tickets) by their
 * `/metrics` going back to zero once every result is delivered.
 */

const MiB = 1024 * 1024;
/**
 * Growth over the last half up to this many MiB per million jobs counts as flat: about 10 bytes
 * per job, below anything kept per job (a map entry with its ticket is about 100 bytes), and
 * above what the sawtooth of garbage collection leaves in a fit over a few million jobs.
 */
export const FLAT_MIB_PER_MILLION = 10;

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
  const { memoryJobs, memoryMaxMs, memoryTtlMs, memorySampleMs, clients, depth } = ctx.opts;
  const ttl = String(memoryTtlMs);
  const opts = clusterOptions(ctx, 'memory', {
    proxyEnv: { RESULT_TTL: ttl },
    nodeEnv: { RESULT_TTL: ttl },
    nodeHttp: true,
  });
  return withCluster(opts, async (cluster) => {
    const names = processNames(cluster);
    const nodes = names.slice(1);
    const samples: CurveSample[] = [];
    let completed = 0;
    const start = performance.now();
    const take = async (): Promise<void> => {
      const s = await sampleCluster(cluster, completed, (performance.now() - start) / 1000);
      samples.push(s);
      const rss = names.map((n) => `${n} ${((s.byProcess[n]?.rss ?? NaN) / MiB).toFixed(0)}`);
      const held = names.map((n) => s.byProcess[n]?.held ?? NaN).join('/');
      const rate = s.seconds > 0 ? s.jobs / s.seconds : 0;
      ctx.log(
        `memory: ${s.jobs.toLocaleString('en-US')} jobs (${rate.toFixed(0)}/s), RSS MiB ${rss.join(', ')}; jobs held ${held}`,
      );
    };
    ctx.log(
      `memory: ${memoryJobs.toLocaleString('en-US')} jobs (at most ${(memoryMaxMs / 60_000).toFixed(1)} min), RESULT_TTL=${ttl}, SLOTS=${opts.slots}, sample every ${memorySampleMs / 1000} s`,
    );
    await take();
    let sampling = Promise.resolve();
    const timer = setInterval(() => {
      sampling = sampling.then(take);
    }, memorySampleMs);
    let run;
    try {
      run = await closedLoop({
        ports: cluster.clientPorts,
        clients,
        depth,
        command: 'echo x',
        warmupMs: 0,
        durationMs: memoryMaxMs,
        maxJobs: memoryJobs,
        onCompleted: (n) => (completed = n),
      });
    } finally {
      clearInterval(timer);
      await sampling;
    }
    await take();
    cluster.assertAlive();
    // the oldest ticket of the run disappears once its TTL has passed and a sweep ran
    const cleanupMs =
      run.firstTicket === null
        ? NaN
        : await waitCleanedUp(
            cluster.clientPorts[0] as number,
            run.firstTicket,
            Math.max(15_000, 3 * memoryTtlMs),
          );

    // every result delivered: what the processes still hold per job must be gone
    const settled = await sampleCluster(cluster, completed, (performance.now() - start) / 1000);
    const heldAfter = names.reduce((sum, n) => sum + (settled.byProcess[n]?.held ?? NaN), 0);
    const v = verdict(samples, names, FLAT_MIB_PER_MILLION);
    const csv = join(dirname(ctx.opts.out), `memory-${ctx.durability}.csv`);
    mkdirSync(dirname(csv), { recursive: true });
    writeFileSync(csv, curveCsv(samples, names));
    const first = samples[0] as CurveSample;
    const last = samples.at(-1) as CurveSample;
    const maxOf = (s: CurveSample, field: 'rss' | 'disk', who: readonly string[]): number =>
      Math.max(...who.map((n) => s.byProcess[n]?.[field] ?? NaN));
    const nodeGrowth = Math.max(...nodes.map((n) => v.rssGrowth[n] ?? NaN));
    const notes: string[] = [];
    if (run.completed < memoryJobs) {
      notes.push(
        `memory: ${run.completed.toLocaleString('en-US')} of ${memoryJobs.toLocaleString('en-US')} jobs finished within ${(memoryMaxMs / 60_000).toFixed(1)} min`,
      );
    }
    if (Number.isNaN(cleanupMs))
      notes.push('memory: the first ticket was still known after the wait: no TTL cleanup seen');
    const text = [
      `6. memory, ${ctx.durability}: ${names.length} processes, SLOTS=${opts.slots}, RESULT_TTL=${ttl} ms, ${clients} clients × ${depth} in flight, echo jobs`,
      renderCurve(samples, names),
      verdictLine(v, FLAT_MIB_PER_MILLION),
      `every sample: ${csv}`,
    ].join('\n');
    return {
      metrics: [
        { label: 'finished jobs', unit: '', value: run.completed, digits: 0 },
        { label: 'jobs/s', unit: '/s', value: run.completed / (run.windowMs / 1000), digits: 0 },
        {
          label: 'proxy RSS at start',
          unit: 'MiB',
          value: (first.byProcess.proxy?.rss ?? NaN) / MiB,
          digits: 0,
        },
        {
          label: 'proxy RSS at end',
          unit: 'MiB',
          value: (last.byProcess.proxy?.rss ?? NaN) / MiB,
          digits: 0,
        },
        {
          label: 'node RSS at start (max)',
          unit: 'MiB',
          value: maxOf(first, 'rss', nodes) / MiB,
          digits: 0,
        },
        {
          label: 'node RSS at end (max)',
          unit: 'MiB',
          value: maxOf(last, 'rss', nodes) / MiB,
          digits: 0,
        },
        {
          label: 'proxy RSS growth, last half',
          unit: 'MiB/M jobs',
          value: v.rssGrowth.proxy ?? NaN,
          target: v.judged ? { op: '<=', value: FLAT_MIB_PER_MILLION } : undefined,
          digits: 2,
        },
        {
          label: 'node RSS growth, last half (max)',
          unit: 'MiB/M jobs',
          value: nodeGrowth,
          target: v.judged ? { op: '<=', value: FLAT_MIB_PER_MILLION } : undefined,
          digits: 2,
        },
        {
          label: 'data on disk at end (max)',
          unit: 'MiB',
          value: maxOf(last, 'disk', names) / MiB,
          digits: 1,
        },
        { label: 'TTL cleanup seen after', unit: 's', value: cleanupMs / 1000, digits: 1 },
        {
          label: 'jobs held in memory after the run',
          unit: '',
          value: heldAfter,
          target: { op: '<=', value: 0 },
          digits: 0,
        },
      ],
      details: {
        ttlMs: memoryTtlMs,
        slots: opts.slots,
        verdict: v,
        samples,
        settled,
        csv,
        run: { ...run, latency: undefined },
      },
      notes,
      text,
    };
  });
}
