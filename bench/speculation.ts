import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from './cluster.js';
import { LineClient } from './line-client.js';

/**
 * What speculation gains (`npm run bench:speculation`): a job of 8 tasks of 200 ms on two real
 * nodes of 4 slots, one of whose tasks is a straggler on its first run (20× slower, as on a
 * slow node); submit to WAIT's answer, with and without `"speculate":true`, a few rounds each.
 */

const ROUNDS = 3;
const FAST_S = 0.2;
const SLOW_S = FAST_S * 20;

function spec(lockDir: string, speculate: boolean): string {
  const fast = { type: 'exec', args: ['sh', '-c', `sleep ${FAST_S}`] };
  const straggler = `if mkdir ${lockDir}/first 2>/dev/null; then sleep ${SLOW_S}; else sleep ${FAST_S}; fi`;
  const tasks = [
    ...Array.from({ length: 7 }, () => fast),
    { type: 'exec', args: ['sh', '-c', straggler] },
  ];
  return JSON.stringify({ tasks, speculate });
}

async function once(c: LineClient, speculate: boolean): Promise<number> {
  const lock = mkdtempSync(join(tmpdir(), 'petrel-straggler-'));
  try {
    const t0 = performance.now();
    const ticket = (await c.request(`SUBMIT ${spec(lock, speculate)}`)).slice(3);
    const reply = await c.request(`WAIT ${ticket} 60000`);
    if (!reply.startsWith('OK ') || !reply.includes('"state":"done"')) throw new Error(reply);
    return performance.now() - t0;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const cluster = await Cluster.start({
  label: 'speculation',
  nodes: 2,
  slots: 4,
  durability: 'fsync',
  nodeEnv: { EXEC_ALLOW: 'sh' },
});
try {
  const c = await LineClient.connect(cluster.clientPorts[0] as number);
  const times = { without: [] as number[], with: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    times.without.push(await once(c, false));
    times.with.push(await once(c, true));
  }
  c.close();
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const fmt = (a: number[]) =>
    `${mean(a).toFixed(0)} ms (${a.map((v) => v.toFixed(0)).join(', ')})`;
  process.stdout.write(
    [
      `8 tasks of ${FAST_S * 1000} ms, one straggling at ${SLOW_S * 1000} ms on its first run, 2 nodes × 4 slots:`,
      `  without speculate: ${fmt(times.without)}`,
      `  with speculate:    ${fmt(times.with)}`,
      `  gain: ${(mean(times.without) / mean(times.with)).toFixed(1)}× faster job response`,
      '',
    ].join('\n'),
  );
} finally {
  await cluster.stop();
}
