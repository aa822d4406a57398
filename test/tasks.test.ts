import t from 'tap';
import {
  clip,
  jobResult,
  progressOf,
  stateOf,
  taskSpec,
  taskViews,
  type TaskLike,
} from '../proxy/tasks.js';
import { median, stragglers } from '../proxy/speculation.js';
import { taskTicket, TICKET_RE } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import { ResultSchema } from '../shared/job-view.js';

const task = (index: number, state: string, output = '', node: string | null = 'n1'): TaskLike => ({
  index,
  state,
  node,
  startedAt: state === 'queued' ? null : 1000 + index,
  result:
    state === 'done' || state === 'failed' || state === 'cancelled'
      ? {
          id: taskTicket('01M7YPV2SYCFX1BJDSDTVV50B6', index),
          state,
          exitCode: state === 'done' ? 0 : state === 'failed' ? 2 : null,
          output,
          error: state === 'failed' ? 'exit code 2' : null,
          node,
          attempt: 1,
          startedAt: 1000 + index,
          finishedAt: 2000 + index,
        }
      : null,
});

t.test('task tickets are tickets of their job’s time, stable and distinct', async (t) => {
  const parent = '01M7YPV2SYCFX1BJDSDTVV50B6';
  const ids = new Set(Array.from({ length: 10_000 }, (_, i) => taskTicket(parent, i)));
  t.equal(ids.size, 10_000);
  const first = taskTicket(parent, 0);
  t.match(first, TICKET_RE);
  t.equal(first.slice(0, 10), parent.slice(0, 10), 'sorts with its job');
  t.equal(taskTicket(parent, 0), first, 'every process derives the same one');
  t.not(taskTicket('01M7YPV2SYCFX1BJDSDTVV50B7', 0), first);
});

t.test('a task runs as a single run carrying the job’s placement and tenant', async (t) => {
  const spec = JobSpecSchema.parse({
    tasks: [
      { type: 'echo', args: ['a'] },
      { type: 'sleep', args: [5], timeoutMs: 100 },
    ],
    priority: 3,
    constraints: { labels: ['gpu'] },
    resources: { cpu: 1 },
    tenant: 'acme',
    speculate: true,
  });
  const run = taskSpec(spec, 1);
  t.same(run, {
    type: 'sleep',
    args: ['5'],
    timeoutMs: 100,
    priority: 3,
    maxAttempts: 3,
    constraints: { labels: ['gpu'] },
    resources: { cpu: 1 },
    tenant: 'acme',
  });
  t.ok(JobSpecSchema.safeParse(run).success, 'a valid spec of one run');
  t.throws(() => taskSpec(spec, 2));
});

t.test('state and progress follow the tasks', async (t) => {
  t.equal(stateOf([task(0, 'queued'), task(1, 'assigned')], false), 'queued');
  t.equal(
    stateOf([task(0, 'done'), task(1, 'queued')], false),
    'running',
    'running until the last ends',
  );
  t.equal(stateOf([task(0, 'done'), task(1, 'done')], false), 'done');
  t.equal(stateOf([task(0, 'done'), task(1, 'failed')], false), 'failed');
  t.equal(stateOf([task(0, 'done'), task(1, 'cancelled')], true), 'cancelled');
  t.same(progressOf([task(0, 'done'), task(1, 'failed'), task(2, 'running'), task(3, 'queued')]), {
    total: 4,
    done: 1,
    failed: 1,
    running: 1,
  });
});

t.test('clip keeps the head and the tail within the byte budget', async (t) => {
  t.equal(clip('short', 100), 'short');
  const long = 'H'.repeat(500) + 'x'.repeat(5000) + 'T'.repeat(500);
  const c = clip(long, 1000);
  t.ok(Buffer.byteLength(JSON.stringify(c)) <= 1000);
  t.ok(c.startsWith('HHH') && c.endsWith('TTT'));
  t.match(c, /…\d+ dropped…/);
  t.ok(Buffer.byteLength(JSON.stringify(clip('"\n'.repeat(4000), 300))) <= 300, 'escapes count');
  t.equal(clip('abcdef'.repeat(100), 5), '', 'no room even for the marker: nothing');
});

t.test('10,000 tasks with output stay under 1 MiB', async (t) => {
  const tasks = Array.from({ length: 10_000 }, (_, i) =>
    task(i, 'done', `line ${i} `.repeat(200), `node-${i % 1000}`),
  );
  const r = jobResult('01M7YPV2SYCFX1BJDSDTVV50B6', tasks, false, 5000);
  t.equal(r.state, 'done');
  t.same(r.progress, { total: 10_000, done: 10_000, failed: 0, running: 0 });
  t.ok(ResultSchema.safeParse(r).success);
  t.ok(Buffer.byteLength(JSON.stringify(r)) < 1024 * 1024, 'the whole result is under 1 MiB');
  t.equal(r.tasks?.length, 10_000);
  t.ok(
    r.tasks?.every((v) => typeof v.output === 'string'),
    'every task keeps some output',
  );
  const few = taskViews([task(0, 'done', 'hello')]);
  t.same(few, [{ index: 0, state: 'done', exitCode: 0, node: 'n1', output: 'hello' }]);
});

t.test('the job result names failures and spans its tasks', async (t) => {
  const r = jobResult('01M7YPV2SYCFX1BJDSDTVV50B6', [task(0, 'done'), task(1, 'failed')], false, 9);
  t.equal(r.state, 'failed');
  t.equal(r.error, '1 of 2 tasks failed');
  t.equal(r.startedAt, 1000);
  t.equal(r.finishedAt, 2001);
  t.equal(r.tasks?.[1]?.exitCode, 2);
});

t.test('stragglers: far beyond the finished siblings, once enough finished', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 2, 3]), 2.5);
  const slow = { id: 'slow', startedAt: 0 };
  const fresh = { id: 'fresh', startedAt: 2500 };
  t.same(stragglers([slow, fresh], [100, 200, 300], 5, 1000), [slow], '1000 ms > 3 × 200 ms');
  t.same(stragglers([slow], [100], 5, 1000), [], 'one of five finished is not enough to judge');
  t.same(stragglers([slow], [1, 1, 1], 4, 200), [], 'tiny tasks are not worth a copy');
  t.same(stragglers([slow], [], 1, 10_000), []);
});
