import t from 'tap';
import { startCluster, until } from './helpers/cluster.js';
import { petrel, spawnPetrel } from './helpers/petrel-cli.js';

/** Two nodes of 4 slots: 8 tasks could run at once. */
async function cluster(teardown: (fn: () => unknown) => void, nodeEnv = {}) {
  const { proxy, nodes } = await startCluster(teardown, 2, {
    nodeEnv: { EXEC_ALLOW: 'sh', SLOTS: '4', ...nodeEnv },
  });
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  const held = () => proxy.scheduler.connectedNodes().reduce((n, x) => n + x.outstanding, 0);
  return { proxy, env, held };
}

t.test(
  'petrel map -j 3 -k: one job, at most 3 tasks at once, outputs in input order',
  async (t) => {
    const { proxy, env, held } = await cluster(t.teardown);
    const submitted = proxy.scheduler.counters.submitted;
    const lines = Array.from({ length: 12 }, (_, i) => `item${i}`);
    const run = spawnPetrel(['map', '-j', '3', '-k', '--', 'sh', '-c', 'sleep 0.2; echo got {}'], {
      env,
      input: lines.join('\n') + '\n',
    });
    let most = 0;
    let ended = false;
    void run.done.then(() => (ended = true));
    await until(() => {
      most = Math.max(most, held());
      return ended;
    }, 60_000);
    const r = await run.done;
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, lines.map((l) => `got ${l}\n`).join(''), 'every line once, in input order');
    t.equal(proxy.scheduler.counters.submitted - submitted, 1, 'one job for all the lines');
    t.ok(most <= 3 && most > 0, `nodes never held more than 3 of its tasks (${most})`);
  },
);

t.test('petrel map: lines beyond one SUBMIT line (64 KiB) make further jobs', async (t) => {
  const { proxy, env } = await cluster(t.teardown);
  const submitted = proxy.scheduler.counters.submitted;
  // 40 lines of 2 KB: more than one job's SUBMIT line holds
  const lines = Array.from({ length: 40 }, (_, i) => `${i}-${'x'.repeat(2000)}`);
  const r = await petrel(['map', '-j', '4', '--', 'sh', '-c', 'echo "${0%%-*}"', '{}'], {
    env,
    input: lines.join('\n') + '\n',
  });
  t.equal(r.code, 0, r.stderr);
  t.same(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => a - b),
    lines.map((_, i) => i),
    'every line ran once',
  );
  t.equal(proxy.scheduler.counters.submitted - submitted, 2, 'two jobs, one after the other');
  const tooLong = await petrel(['map', '--', 'sh', '-c', 'echo'], {
    env,
    input: `short\n${'y'.repeat(70_000)}\n`,
  });
  t.equal(tooLong.code, 64, 'a line no job can hold is a usage error');
  t.match(tooLong.stderr, /line 2 makes a task of \d+ bytes.*64 KiB/);
  t.equal(proxy.scheduler.counters.submitted - submitted, 2, 'and nothing of it was submitted');
});

t.test('petrel map: a failed task makes it exit 123, as xargs does', async (t) => {
  const { env } = await cluster(t.teardown);
  const failing = await petrel(['map', '--', 'sh', '-c', 'echo {}; [ {} != b ]'], {
    env,
    input: 'a\nb\nc\n',
  });
  t.equal(failing.code, 123);
  t.same(failing.stdout.split('\n').filter(Boolean).sort(), ['a', 'b', 'c']);
  t.match(failing.stderr, /task 1 \(b\) failed: exit 1/);
  const empty = await petrel(['map', '-j', '2', '--', 'sh'], { env, input: '' });
  t.equal(empty.code, 0, 'no lines, nothing to do');
  const asJson = await petrel(['map', '--json', '-j', '2', '--', 'sh', '-c', 'echo {}'], {
    env,
    input: 'x\ny\n',
  });
  t.equal(asJson.code, 0);
  const job = JSON.parse(asJson.stdout) as { state: string; tasks: Array<{ output: string }> };
  t.equal(job.state, 'done');
  t.same(
    job.tasks.map((x) => x.output),
    ['x\n', 'y\n'],
    '--json: the job’s result',
  );
});

t.test('petrel map prints the whole output of a task its result clipped', async (t) => {
  const { env } = await cluster(t.teardown, { JOB_OUTPUT_LIMIT: '1024' });
  const r = await petrel(['map', '-k', '--', 'sh', '-c', 'seq {} 3000'], { env, input: '1\n2\n' });
  t.equal(r.code, 0, r.stderr);
  const seq = (from: number) =>
    Array.from({ length: 3001 - from }, (_, i) => `${from + i}\n`).join('');
  t.equal(r.stdout, seq(1) + seq(2), 'all of each, read with LOGS');
});

t.test('Ctrl-C cancels the job: exit 130, its tasks stop', async (t) => {
  const { env, held } = await cluster(t.teardown);
  const program = 'case {} in fast) echo fast ;; *) sleep 30 ;; esac';
  const run = spawnPetrel(['map', '--', 'sh', '-c', program], {
    env,
    input: 'fast\nslow1\nslow2\n',
  });
  let stdout = '';
  run.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  await until(() => stdout.includes('fast'), 20_000, 'the fast task’s output');
  run.child.kill('SIGINT');
  const r = await run.done;
  t.equal(r.code, 130);
  t.match(r.stderr, /cancelling/);
  t.match(r.stderr, /task 1 \(slow1\) cancelled/);
  await until(() => held() === 0, 10_000, 'the nodes to let go of the tasks');
});
