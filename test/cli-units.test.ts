import t from 'tap';
import { batchesOf, mapJobs, mapSpec, TASKS_BYTES, withLine } from '../cli/commands/map.js';
import { longTable } from '../cli/commands/ls.js';
import { specOf } from '../cli/commands/submit.js';
import { render } from '../cli/commands/top.js';
import { Command } from 'commander';
import { common, duration, type CommonOptions } from '../cli/context.js';
import { exitCodeOfError, exitCodeOfJob, EXIT } from '../cli/exit-codes.js';
import { runLines, summary } from '../cli/format.js';
import { envOf } from '../cli/job-input.js';
import { isClipped, TaskPrinter } from '../cli/task-printer.js';
import { WireError } from '../shared/errors.js';

const T = '01M8N95DJSFCSS7R4A8TAF97G2';

t.test('map: {} is the line, or the line is the last argument', async (t) => {
  t.same(withLine(['gzip', '-9', '{}'], 'a b.txt'), ['gzip', '-9', 'a b.txt']);
  t.same(withLine(['cp', '{}', '{}.bak'], 'x'), ['cp', 'x', 'x.bak']);
  t.same(withLine(['wc', '-l'], 'f'), ['wc', '-l', 'f']);
});

t.test('map: one job per 10,000 lines, -j as its concurrency', async (t) => {
  const lines = Array.from({ length: 25_001 }, (_, i) => String(i));
  t.same(
    batchesOf(lines).map((b) => [b.length, b[0]]),
    [
      [10_000, '0'],
      [10_000, '10000'],
      [5001, '20000'],
    ],
  );
  t.same(batchesOf(['a'], 2), [['a']]);
  t.same(mapSpec('gzip', ['-9'], ['a', 'b'], { jobs: 8, retries: 2, timeout: 5000 }), {
    tasks: [
      { type: 'exec', args: ['gzip', '-9', 'a'], timeoutMs: 5000 },
      { type: 'exec', args: ['gzip', '-9', 'b'], timeoutMs: 5000 },
    ],
    concurrency: 8,
    retry: { attempts: 3 },
  });
  t.equal(mapSpec('true', [], ['a'], { jobs: 50_000 }).concurrency, 10_000, 'at most the limit');
  t.notOk('concurrency' in mapSpec('true', [], ['a'], {}), 'no -j: every free slot');
});

t.test("map: a job's SUBMIT line stays within 64 KiB, however many lines fit", async (t) => {
  t.same(
    batchesOf(['aaaa', 'bb', 'cc', 'd'], 10, (s) => s.length, 8),
    [
      ['aaaa', 'bb'],
      ['cc', 'd'],
    ],
    'each item weighs its bytes and a comma',
  );
  t.same(
    batchesOf(['toolong', 'a'], 10, (s) => s.length, 4),
    [['toolong'], ['a']],
  );
  const lines = Array.from({ length: 5000 }, (_, i) => `input-file-${i}.log`);
  const jobs = mapJobs('gzip', ['-9', '{}'], lines, { jobs: 8 });
  t.ok(jobs.length > 1, `${jobs.length} jobs`);
  t.same(
    jobs.flatMap((j) => j.lines),
    lines,
    'every line once, in order',
  );
  for (const j of jobs) {
    const line = Buffer.byteLength(`SUBMIT ${JSON.stringify(j.spec)}\n`);
    t.ok(line <= 64 * 1024, `a SUBMIT line of ${line} bytes`);
    t.same(j.spec, mapSpec('gzip', ['-9', '{}'], j.lines, { jobs: 8 }));
  }
  t.ok(
    jobs
      .slice(0, -1)
      .every((j) => Buffer.byteLength(JSON.stringify(j.spec.tasks)) > TASKS_BYTES / 2),
    'jobs are filled, not cut short',
  );
  t.equal(mapJobs('echo', [], ['a', 'b'], {}).length, 1, 'a few lines are one job');
  const refused = (() => {
    try {
      mapJobs('echo', [], ['short', 'x'.repeat(70_000)], {});
      return null;
    } catch (err) {
      return err;
    }
  })();
  t.ok(refused instanceof WireError && refused.code === 'TOO_LARGE', 'refused as too large');
  t.match(String(refused), /line 2/, 'naming the line, before anything is submitted');
});

t.test('map: a task whose output was clipped is read again in full', async (t) => {
  const task = (output: string, error?: string) =>
    ({ index: 0, state: 'done', output, error }) as never;
  t.notOk(isClipped(task('all of it\n')));
  t.ok(isClipped(task('head\n[... 4000 bytes dropped ...]\ntail')), "the node's marker");
  t.ok(isClipped(task('head[…4000 dropped…]tail')), "the reply's marker");
  t.ok(isClipped(task('x', 'output clipped to JOB_OUTPUT_LIMIT (1024 bytes): 10 bytes dropped')));
});

t.test('map prints each finished task once, as it ends or in input order', async (t) => {
  const task = (index: number, state: string) => ({ index, state, output: `${index}` }) as never;
  const asDone = new TaskPrinter(false);
  t.same(
    asDone
      .take([task(0, 'running'), task(1, 'done'), task(2, 'failed')])
      .map((x: { index: number }) => x.index),
    [1, 2],
  );
  t.same(
    asDone
      .take([task(0, 'done'), task(1, 'done'), task(2, 'failed')])
      .map((x: { index: number }) => x.index),
    [0],
  );
  const ordered = new TaskPrinter(true);
  t.same(ordered.take([task(0, 'running'), task(1, 'done')]), [], 'task 1 waits for task 0');
  t.same(
    ordered
      .take([task(0, 'cancelled'), task(1, 'done'), task(2, 'queued')])
      .map((x: { index: number }) => x.index),
    [0, 1],
  );
});

t.test('exit codes', async (t) => {
  t.equal(exitCodeOfJob({ ticket: T, state: 'failed', exitCode: 3 }), 3);
  t.equal(exitCodeOfJob({ ticket: T, state: 'done' }), 0);
  t.equal(exitCodeOfJob({ ticket: T, state: 'cancelled' }), EXIT.INTERRUPTED);
  t.equal(exitCodeOfJob({ ticket: T, state: 'failed', error: 'TIMEOUT after 5 ms' }), 124);
  t.equal(exitCodeOfJob({ ticket: T, state: 'failed', error: 'spawn nope ENOENT' }), 127);
  for (const error of [
    'cannot run nope: no such program',
    'cannot run ./x: permission denied',
    'cwd /nonexistent does not exist on this node',
    'cwd /etc/passwd is not a directory on this node',
  ]) {
    t.equal(exitCodeOfJob({ ticket: T, state: 'failed', error }), 127, error);
  }
  t.equal(exitCodeOfJob({ ticket: T, state: 'failed', error: 'LOST' }), 1);
  t.equal(exitCodeOfError(new WireError('NOT_FOUND')), 66);
  t.equal(exitCodeOfError(new WireError('UNAVAILABLE')), 69);
  t.equal(exitCodeOfError(new WireError('UNAUTHORIZED')), 77);
  t.equal(exitCodeOfError(new WireError('BAD_REQUEST')), 64);
  t.equal(exitCodeOfError(new Error('?')), 69);
});

t.test('env pairs and the summary line', async (t) => {
  t.same(envOf(['A=1', 'B=x=y', 'C=']), { A: '1', B: 'x=y', C: '' });
  t.throws(() => envOf(['=1']), { code: 'BAD_REQUEST' });
  t.equal(
    summary({
      ticket: T,
      state: 'done',
      exitCode: 0,
      node: 'n1',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.500Z',
    }),
    `${T}  done  exit 0  on n1  1.5 s`,
  );
  const schedule = {
    ticket: T,
    state: 'scheduled' as const,
    cron: '*/5 * * * *',
    tz: 'Europe/Paris',
    next: '2026-01-01T00:05:00.000Z',
  };
  t.equal(
    summary({ ...schedule, runs: [{ ticket: T, state: 'done' }], skipped: 2 }),
    `${T}  scheduled  cron "*/5 * * * *" Europe/Paris  next 2026-01-01T00:05:00.000Z  2 skipped  1 run`,
    "a schedule's cron, next firing, skips and runs",
  );
  t.equal(
    summary({ ...schedule, state: 'cancelled', next: null, runs: [] }),
    `${T}  cancelled  cron "*/5 * * * *" Europe/Paris  0 runs`,
  );
  t.same(runLines({ ...schedule, runs: [{ ticket: T, state: 'done' }] }), [], 'not a schedule');
});

t.test('a job that ran more than once: the count, then a line per run', async (t) => {
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const retried = {
    ticket: T,
    state: 'failed' as const,
    exitCode: 2,
    error: 'exit code 2',
    node: 'n2',
    startedAt: at(1000),
    finishedAt: at(1040),
    runs: [
      {
        node: 'n1',
        attempt: 1,
        exitCode: 2,
        error: 'exit code 2',
        startedAt: at(0),
        finishedAt: at(30),
      },
      {
        node: null,
        attempt: 2,
        error: 'LOST node n3 left',
        startedAt: at(500),
        finishedAt: at(900),
      },
      {
        node: 'n2',
        attempt: 3,
        exitCode: 2,
        error: 'exit code 2',
        startedAt: at(1000),
        finishedAt: at(1040),
      },
    ],
  };
  t.equal(summary(retried), `${T}  failed  exit 2  on n2  40 ms  3 runs  error: exit code 2`);
  t.same(runLines(retried), [
    'run 1  on n1  exit 2  30 ms  error: exit code 2',
    'run 2  400 ms  error: LOST node n3 left',
    'run 3  on n2  exit 2  40 ms  error: exit code 2',
  ]);
  const once = { ...retried, runs: retried.runs.slice(2) };
  t.equal(
    summary(once),
    `${T}  failed  exit 2  on n2  40 ms  error: exit code 2`,
    'one run: no count',
  );
  t.same(runLines(once), []);
});

t.test('top: one row per node, rates between two views', async (t) => {
  const view = (time: number, done: number) => ({
    time,
    policy: 'least-loaded',
    queue: { queued: 1, assigned: 0, running: 2 },
    totals: { done },
    nodes: [
      { id: 'node-with-a-long-name', connected: true, slots: 4, queued: 1, running: 2, done },
    ],
  });
  const text = render({ id: 'n1' }, view(2000, 30), view(1000, 10));
  t.match(text, /queue\s+1 queued\s+0 assigned\s+2 running/);
  t.match(text, /\nnode-with-a-long-name\s+yes\s+4\s+2\s+1\s+30\s+20\.0$/);
  t.match(render({ id: 'n1', localFallback: true }, null, undefined), /proxy does not answer/);
});

t.test('ls -l: aligned columns, the error or what the job waits for last', async (t) => {
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const table = longTable([
    { ticket: T, state: 'queued', submittedAt: at(0), waiting: 'no node has labels gpu' },
    {
      ticket: T,
      state: 'failed',
      exitCode: 2,
      node: 'node-9001',
      submittedAt: at(0),
      startedAt: at(10),
      finishedAt: at(1510),
      error: 'exit code 2',
      runs: [{ attempt: 1 }, { attempt: 2 }],
    },
  ]);
  t.equal(
    table,
    [
      `TICKET${' '.repeat(22)}STATE   EXIT  NODE       SUBMITTED                 RAN    RUNS  ERROR`,
      `${T}  queued  -     -          2026-01-01T00:00:00.000Z  -      0     (no node has labels gpu)`,
      `${T}  failed  2     node-9001  2026-01-01T00:00:00.000Z  1.5 s  2     exit code 2`,
    ].join('\n'),
  );
});

t.test('durations: milliseconds, or a number with a unit', async (t) => {
  const delay = duration('--delay');
  t.equal(delay('1500'), 1500, 'a whole number is milliseconds');
  t.equal(delay('0'), 0);
  t.equal(delay('500ms'), 500);
  t.equal(delay('2s'), 2000);
  t.equal(delay('1.5m'), 90_000);
  t.equal(delay('2h'), 7_200_000);
  t.equal(delay('1d'), 86_400_000);
  t.equal(delay('0.0015s'), 2, 'rounded to the millisecond');
  for (const bad of ['', '2x', '1.5', '-1s', ' 2s', '2 s', 's', '1e3', '0x10', '2S'])
    t.throws(() => delay(bad), /--delay takes milliseconds \(1500\) or a number with a unit/, bad);
  t.throws(() => duration('--timeout', 1)('0s'), /--timeout .* at least 1 ms$/);
  t.throws(() => delay('9'.repeat(20)), /--delay takes/, 'beyond what a number holds exactly');
});

t.test(
  '--reply-timeout and --reconnect-timeout take durations; empty is the default',
  async (t) => {
    const parse = (args: string[], env: Record<string, string> = {}): CommonOptions => {
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const cmd = common(new Command('x').exitOverride().configureOutput({ writeErr: () => {} }));
        return cmd.parse(args, { from: 'user' }).opts<CommonOptions>();
      } finally {
        for (const name of Object.keys(env)) delete process.env[name];
        Object.assign(process.env, saved);
      }
    };
    t.equal(parse(['--reply-timeout', '2s']).replyTimeout, 2000);
    t.equal(parse(['--reply-timeout', '0']).replyTimeout, 0, '0: never');
    t.equal(parse(['--reconnect-timeout', '1.5m']).reconnectTimeout, 90_000);
    t.equal(
      parse([], { PETREL_RECONNECT_TIMEOUT: '500ms' }).reconnectTimeout,
      500,
      'from its variable',
    );
    t.equal(parse([], { PETREL_REPLY_TIMEOUT: '' }).replyTimeout, 15_000, 'empty: the default');
    t.throws(() => parse(['--reply-timeout', '2x']), /--reply-timeout takes milliseconds/);
  },
);

t.test('submit: each option is its field of the spec', async (t) => {
  const none = { after: [], label: [], env: [] };
  t.same(specOf('echo', ['hi'], none), { type: 'echo', args: ['hi'] }, 'no option, no field');
  const all = specOf(
    'exec',
    ['--', 'sh', '-c', 'cat'],
    {
      ...none,
      priority: 5,
      timeout: 30_000,
      delay: 2000,
      cron: '*/5 * * * *',
      tz: 'Europe/Paris',
      env: ['A=1', 'B=x=y'],
      cwd: '/srv',
      cpu: 0.5,
      mem: 256,
      key: 'k',
      after: [T],
      tenant: 'team',
      label: ['gpu'],
      retries: 2,
    },
    'input\n',
  );
  t.same(all, {
    type: 'exec',
    args: ['sh', '-c', 'cat'],
    priority: 5,
    timeoutMs: 30_000,
    retry: { attempts: 3 },
    key: 'k',
    delayMs: 2000,
    cron: '*/5 * * * *',
    tz: 'Europe/Paris',
    env: { A: '1', B: 'x=y' },
    cwd: '/srv',
    stdin: 'input\n',
    after: [T],
    tenant: 'team',
    constraints: { labels: ['gpu'] },
    resources: { cpu: 0.5, memMb: 256 },
  });
  t.equal(specOf('echo', [], { ...none, runAt: '1893456000000' }).runAt, 1893456000000, 'epoch ms');
  t.equal(
    specOf('echo', [], { ...none, runAt: '2030-01-01T00:00:00Z' }).runAt,
    '2030-01-01T00:00:00Z',
    'a time as written, for the node to read',
  );
  t.same(specOf('echo', [], { ...none, mem: 64 }).resources, { memMb: 64 }, 'one resource alone');
  const spec = specOf(undefined, [], {
    ...none,
    jsonSpec: '{"type":"echo","tz":"UTC"}',
    tz: 'Asia/Tokyo',
  });
  t.equal(spec.tz, 'Asia/Tokyo', 'an option overrides the same field of --json');
});
