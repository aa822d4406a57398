import t from 'tap';
import type { JobSpec } from '../shared/job.js';
import { cancelledBeforeRun, pendingView, viewOfResult } from '../node/results.js';
import { freePort, LineClient, startNode } from './helpers/cluster.js';

/**
 * A job's view has the fields its kind has (DESIGN: a schedule's `next` and `runs`, a job of many
 * tasks' `tasks` and `progress`) also when its origin answers alone: before the proxy has the
 * job, or while no proxy is reachable. The proxy's own view replaces it once the proxy answers.
 */

const TICKET = '01M8N8GPXM6C8T3FQY2ECZ0VBG';
const at = (iso: string) => Date.parse(iso);
/** A job of two tasks, and its view while neither has started. */
const TWO_TASKS = {
  tasks: [
    { type: 'echo', args: ['a'] },
    { type: 'echo', args: ['b'] },
  ],
};
const TWO_WAITING = {
  state: 'queued',
  progress: { total: 2, done: 0, failed: 0, running: 0 },
  tasks: [
    { index: 0, state: 'queued' },
    { index: 1, state: 'queued' },
  ],
};
const spec = (cron: string, tz?: string): JobSpec =>
  ({ type: 'echo', args: ['tick'], cron, ...(tz ? { tz } : {}) }) as JobSpec;

t.test("the origin's view of a schedule: its next due time after acceptance, no runs", (t) => {
  const v = pendingView(
    '01M8N8GPXM6C8T3FQY2ECZ0VBG',
    spec('* * * * *'),
    at('2026-11-30T04:00:10Z'),
    'forwarded',
  );
  t.match(v, { state: 'scheduled', cron: '* * * * *', tz: 'UTC', runs: [] });
  t.equal(v.next, at('2026-11-30T04:01:00Z'));
  const paris = pendingView(
    '01M8N8GPXM6C8T3FQY2ECZ0VBG',
    spec('30 9 * * *', 'Europe/Paris'),
    at('2026-11-30T04:00:00Z'),
    'accepted',
  );
  t.equal(paris.next, at('2026-11-30T08:30:00Z'), 'in its time zone');
  t.end();
});

t.test('a schedule cancelled at its origin has no next due time', (t) => {
  const id = '01M8N8GPXM6C8T3FQY2ECZ0VBG';
  const cancelled = cancelledBeforeRun(id, at('2026-11-30T04:00:20Z'));
  const v = viewOfResult(id, spec('* * * * *'), at('2026-11-30T04:00:10Z'), cancelled);
  t.match(v, { state: 'cancelled', next: null, runs: [] });
  t.end();
});

t.test("the origin's view of a job of many tasks: each task waiting, none started", (t) => {
  const tasks = TWO_TASKS as JobSpec;
  const submittedAt = at('2026-11-30T04:00:10Z');
  t.match(pendingView(TICKET, tasks, submittedAt, 'accepted'), TWO_WAITING);
  const after = { ...tasks, after: ['01M8N8GPXM6C8T3FQY2ECZ0VBH'] } as JobSpec;
  const blocked = pendingView(TICKET, after, submittedAt, 'forwarded');
  t.match(blocked, { state: 'blocked', tasks: [{ state: 'blocked' }, { state: 'blocked' }] });
  const ended = viewOfResult(
    TICKET,
    tasks,
    submittedAt,
    cancelledBeforeRun(TICKET, submittedAt + 5),
  );
  t.equal(ended.progress, undefined, 'a cancelled one says what its result says');
  // cancelled at its origin before the proxy acknowledged it: as the proxy would end it
  const cancelled = cancelledBeforeRun(TICKET, submittedAt + 5, tasks);
  t.match(viewOfResult(TICKET, tasks, submittedAt, cancelled), {
    state: 'cancelled',
    progress: { total: 2, done: 0, failed: 2, running: 0 },
    tasks: [
      { index: 0, state: 'cancelled' },
      { index: 1, state: 'cancelled' },
    ],
  });
  t.end();
});

t.test(
  'RESULT on a node without its proxy: a schedule with next and runs, tasks with progress',
  async (t) => {
    // no proxy listens on this port: the node never joins, and answers from its own file
    const node = await startNode(t.teardown, await freePort(), { NODE_ID: 'alone' });
    const c = await LineClient.connect(node.clientPort, t.teardown);
    const submitted = await c.ask('SUBMIT {"type":"echo","args":["tick"],"cron":"*/5 * * * *"}');
    t.match(submitted, /^OK [0-9A-Z]{26}$/);
    const before = Date.now();
    const reply = await c.ask(`RESULT ${submitted.slice(3)}`);
    t.match(reply, /^OK \{/);
    const view = JSON.parse(reply.slice(3)) as Record<string, unknown>;
    t.match(view, { state: 'scheduled', cron: '*/5 * * * *', tz: 'UTC', runs: [] });
    const next = Date.parse(view.next as string);
    t.equal(next % 300_000, 0, 'next is on a five-minute mark');
    t.ok(next > before - 300_000 && next <= before + 300_000, 'the coming one');

    const job = await c.ask(`SUBMIT ${JSON.stringify(TWO_TASKS)}`);
    t.match(job, /^OK [0-9A-Z]{26}$/);
    const viewed = JSON.parse((await c.ask(`RESULT ${job.slice(3)}`)).slice(3)) as unknown;
    t.match(viewed, TWO_WAITING);
  },
);
