import t from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

const JOB_RE = /^JOB ([0-9A-Z]{26}) (\{.*\})$/;

/** A worker connection made of a line client: WORKER, then JOB lines as they come. */
async function worker(port: number, type: string, teardown: (fn: () => unknown) => void) {
  const c = await LineClient.connect(port, teardown);
  const ok = await c.ask(`WORKER ${type} 1`);
  if (ok !== 'OK worker') throw new Error(`WORKER answered ${ok}`);
  return c;
}

async function nextJob(c: LineClient, ms = 20_000) {
  const line = await c.next(ms);
  const m = line === null ? null : JOB_RE.exec(line);
  if (!m) throw new Error(`expected a JOB line, got ${line}`);
  return { ticket: m[1] as string, body: JSON.parse(m[2] as string) as Record<string, unknown> };
}

async function submit(c: LineClient, line: string): Promise<string> {
  const r = await until(async () => {
    const reply = await c.ask(line);
    return /^ERR BAD_REQUEST unknown job type/.test(reply) ? undefined : reply;
  });
  if (!/^OK [0-9A-Z]{26}$/.test(r)) throw new Error(`${line} answered ${r}`);
  return r.slice(3);
}

async function view(c: LineClient, ticket: string, wait = 0) {
  const r = wait
    ? await c.ask(`WAIT ${ticket} ${wait}`, wait + 5000)
    : await c.ask(`RESULT ${ticket}`);
  if (!r.startsWith('OK ')) throw new Error(`answered ${r}`);
  return JSON.parse(r.slice(3)) as {
    state: string;
    node?: string;
    attempts: number;
    runs?: Array<{ attempt: number; error?: string }>;
  };
}

t.test('a worker leaving costs its job one attempt and its node nothing', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const n1 = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'n1' });
  const client = await LineClient.connect(n1.port, t.teardown);

  // an unrelated job running on the same node
  const sleeper = await submit(client, 'SUBMIT sleep 4000');
  await until(async () => (await view(client, sleeper)).state === 'running', 10_000, 'sleep runs');

  const a = await worker(n1.port, 'render', t.teardown);
  const ticket = await submit(client, 'SUBMIT {"type":"render","args":["x"],"maxAttempts":2}');
  const first = await nextJob(a);
  t.equal(first.ticket, ticket);
  t.equal(first.body.attempt, 1);
  a.socket.destroy(); // the last worker of its type dies mid-job

  await until(
    async () => (await view(client, ticket)).state === 'queued',
    10_000,
    'the lost job to wait again',
  );
  const queued = await view(client, ticket);
  t.equal(queued.attempts, 1, 'one run so far');
  t.same(
    queued.runs?.map((r) => [r.attempt, r.error]),
    [[1, 'LOST: its worker disconnected']],
    'the lost run is listed once',
  );

  const n2 = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'n2' });
  const b = await worker(n2.port, 'render', t.teardown);
  const again = await nextJob(b);
  t.equal(again.ticket, ticket, 'another worker gets the job');
  t.equal(again.body.attempt, 2, 'as its second attempt');
  b.write(`DONE ${ticket} rendered\n`);
  const done = await view(client, ticket, 20_000);
  t.match(done, { state: 'done', node: 'n2', attempts: 2 });
  t.same(
    done.runs?.map((r) => [r.attempt, r.error ?? null]),
    [
      [1, 'LOST: its worker disconnected'],
      [2, null],
    ],
    'one entry per run',
  );

  const slept = await view(client, sleeper, 20_000);
  t.match(slept, { state: 'done', node: 'n1', attempts: 1 }, 'the unrelated job ran once');
  t.equal(slept.runs?.length ?? 1, 1);

  const warnings = (p: string[]) =>
    p.filter((l) => /invalid frame|node left|lost the proxy|node did not return/.test(l));
  t.same(warnings(proxy.proc.output), [], 'the proxy kept the node');
  t.same(warnings(n1.proc.output), [], 'the node kept its link');
  t.equal(
    n1.proc.output.filter((l) => l.includes('joined the proxy')).length,
    1,
    'the node joined once',
  );
});
