import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { taskTicket } from '../shared/ids.js';
import { freePort, LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

interface Run {
  node?: string;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
}
interface View {
  ticket: string;
  state: string;
  error?: string;
  waiting?: string;
  progress?: { total: number; done: number; failed: number; running: number };
  tasks?: Array<{ index: number; state: string; node?: string; output?: string }>;
  runs?: Run[];
}

const parse = (line: string): View => {
  if (!line.startsWith('OK ')) throw new Error(line);
  return JSON.parse(line.slice(3)) as View;
};
const finished = (s: string) => s === 'done' || s === 'failed' || s === 'cancelled';

/** Three real nodes of 4 slots each (12 at once without a limit), running real processes. */
async function cluster(teardown: Teardown, proxyPort = 0, proxyDir = tempDir(teardown)) {
  const proxy = await spawnProxy(teardown, proxyDir, {}, proxyPort);
  const nodes = [];
  for (const id of ['a', 'b', 'c']) {
    nodes.push(
      await spawnNode(teardown, proxy.port, tempDir(teardown), {
        NODE_ID: id,
        SLOTS: '4',
        EXEC_ALLOW: 'sleep,sh',
      }),
    );
  }
  const c = await LineClient.connect(nodes[0]?.port ?? 0, teardown);
  return { proxy, proxyDir, nodes, c };
}
type Teardown = (fn: () => unknown) => void;

/**
 * The cluster the subtests that kill nothing share (started once, for the file): each of them
 * submits its own job and waits for it to end, so one leaves nothing behind for the next.
 */
let shared: ReturnType<typeof cluster> | undefined;
const sharedCluster = () => (shared ??= cluster(t.teardown));

/** What a watcher polling RESULT saw until the job ended. */
interface Watch {
  mostRunning: number;
  reasons: Set<string>;
  samples: number;
}

/** Polls the job's RESULT until it ends, noting the most tasks seen running at once. */
async function watch(c: LineClient, ticket: string, during?: (v: View) => Promise<void>) {
  const w: Watch = { mostRunning: 0, reasons: new Set(), samples: 0 };
  const v = await until(
    async () => {
      const v = parse(await c.ask(`RESULT ${ticket}`));
      w.samples++;
      w.mostRunning = Math.max(w.mostRunning, v.progress?.running ?? 0);
      if (v.waiting) w.reasons.add(v.waiting);
      if (during) await during(v);
      return finished(v.state) ? v : null;
    },
    60_000,
    'the job to end',
  );
  return { w, v };
}

/** The most runs of the job's tasks that overlapped in time, from each task's `runs`. */
async function mostOverlapping(c: LineClient, ticket: string, count: number): Promise<number> {
  const edges: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const v = parse(await c.ask(`RESULT ${taskTicket(ticket, i)}`));
    for (const r of v.runs ?? []) {
      if (!r.startedAt || !r.finishedAt) continue;
      edges.push([Date.parse(r.startedAt), 1], [Date.parse(r.finishedAt), -1]);
    }
  }
  // a run that ends in the same millisecond another starts did not overlap it
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return most;
}

const sleeps = (n: number, seconds: number) =>
  Array.from({ length: n }, () => ({ type: 'exec', args: ['sleep', String(seconds)] }));

t.test('concurrency 2: 12 tasks on 12 free slots never run more than 2 at once', async (t) => {
  const { c } = await sharedCluster();
  const spec = { tasks: sleeps(12, 0.2), concurrency: 2 };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  const { w, v } = await watch(c, ticket);
  t.equal(v.state, 'done');
  t.same(v.progress, { total: 12, done: 12, failed: 0, running: 0 });
  t.ok(w.mostRunning <= 2, `at most 2 seen running in ${w.samples} samples (${w.mostRunning})`);
  t.ok(w.reasons.has('concurrency 2 reached'), 'the job said why its tasks waited');
  const overlap = await mostOverlapping(c, ticket, 12);
  t.ok(overlap <= 2 && overlap >= 1, `the runs' own times overlap at most 2 deep (${overlap})`);
  t.ok(new Set(v.tasks?.map((x) => x.node)).size >= 2, 'still spread over the nodes');
});

t.test('a speculative copy takes a permit of its own', async () => {
  const { proxy, c } = await sharedCluster();
  // two slow tasks last: once they run, no permit is left for a copy of either
  const tasks = [...sleeps(4, 0), ...sleeps(2, 1.5)];
  const spec = { tasks, concurrency: 2, speculate: true };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  let most = 0;
  const { v } = await watch(c, ticket, async () => {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/api/cluster`);
    const { nodes } = (await res.json()) as { nodes: Array<{ outstanding: number }> };
    most = Math.max(
      most,
      nodes.reduce((n, x) => n + x.outstanding, 0),
    );
  });
  t.equal(v.state, 'done');
  t.ok(most <= 2, `the nodes never held more than 2 runs, copies included (${most})`);
});

t.test('a task waiting for a permit says so in its own RESULT', async (t) => {
  const { c } = await sharedCluster();
  const spec = { tasks: sleeps(3, 30), concurrency: 1 };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  const task = await until(async () => {
    const v = parse(await c.ask(`RESULT ${taskTicket(ticket, 2)}`));
    return v.waiting ? v : null;
  });
  t.equal(task.state, 'queued');
  t.equal(task.waiting, 'concurrency 1 reached');
  t.equal(await c.ask(`CANCEL ${ticket}`), 'OK cancelled');
  const v = parse(await c.ask(`WAIT ${ticket} 20000`));
  t.equal(v.state, 'cancelled');
  t.same(
    v.tasks?.map((x) => x.state),
    ['cancelled', 'cancelled', 'cancelled'],
  );
});

t.test('concurrency holds through a node crash and a proxy restart', async (t) => {
  const proxyPort = await freePort();
  const first = await cluster(t.teardown, proxyPort);
  const { c, nodes } = first;
  const spec = { tasks: sleeps(10, 0.6), concurrency: 3 };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  let crashed = false;
  let restarted = false;
  const { w, v } = await watch(c, ticket, async (seen) => {
    const running = seen.tasks?.filter((x) => x.state === 'running') ?? [];
    // a node other than the one we ask through dies while running a task
    const victim = nodes.slice(1).find((_, i) => running.some((x) => x.node === 'bc'[i]));
    if (!crashed && victim && (seen.progress?.done ?? 0) >= 1) {
      crashed = true;
      await victim.proc.kill('SIGKILL');
    } else if (crashed && !restarted && (seen.progress?.done ?? 0) >= 5) {
      restarted = true;
      await first.proxy.proc.kill('SIGKILL');
      await spawnProxy(t.teardown, first.proxyDir, {}, proxyPort);
    }
  });
  t.ok(crashed && restarted, 'a node crashed and the proxy restarted mid-job');
  t.equal(v.state, 'done');
  t.same(v.progress, { total: 10, done: 10, failed: 0, running: 0 });
  t.ok(w.mostRunning <= 3, `at most 3 seen running (${w.mostRunning})`);
  const overlap = await mostOverlapping(c, ticket, 10);
  t.ok(overlap <= 3, `the runs' own times, lost ones too, overlap at most 3 deep (${overlap})`);
});

t.test('RETRY of a failed job of tasks runs only its failed tasks, same ticket', async (t) => {
  const { c } = await sharedCluster();
  const dir = tempDir(t.teardown);
  const ok = join(dir, 'ok');
  // even tasks always succeed; odd ones only once the file `ok` exists; each counts its runs
  const tasks = Array.from({ length: 6 }, (_, i) => ({
    type: 'exec',
    args: ['sh', '-c', `echo x >> ${dir}/runs-${i}; [ ${i % 2} = 0 ] || [ -e ${ok} ]`],
  }));
  const spec = { tasks, concurrency: 2, retry: { attempts: 2, backoffMs: 0 } };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  const failed = parse(await c.ask(`WAIT ${ticket} 30000`));
  t.equal(failed.state, 'failed');
  t.same(failed.progress, { total: 6, done: 3, failed: 3, running: 0 });
  t.match(await c.ask(`RETRY ${taskTicket(ticket, 1)}`), /^ERR BAD_REQUEST .*RETRY its job/);
  writeFileSync(ok, '');
  t.equal(await c.ask(`RETRY ${ticket}`), 'OK queued');
  const v = parse(await c.ask(`WAIT ${ticket} 30000`));
  t.equal(v.ticket, ticket);
  t.equal(v.state, 'done');
  t.same(v.progress, { total: 6, done: 6, failed: 0, running: 0 });
  const runs = tasks.map((_, i) => readFileSync(join(dir, `runs-${i}`), 'utf8').length / 2);
  // odd tasks: two failed runs (attempts 2), then one more under the fresh budget
  t.same(runs, [1, 3, 1, 3, 1, 3], 'the done tasks did not run again');
  t.match(await c.ask(`RETRY ${ticket}`), /^ERR BAD_REQUEST .*is done/);
});
