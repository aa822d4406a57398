import t from 'tap';
import type { JobSpec } from '../shared/job.js';
import { cancelledBeforeRun, pendingView, viewOfResult } from '../node/results.js';
import { freePort, LineClient, startNode } from './helpers/cluster.js';

/**
 * A schedule's view has `next` and `runs` (DESIGN: `RESULT <schedule>`) also when its origin
 * answers alone: before the proxy has it, or while no proxy is reachable. The proxy's own view
 * replaces it as soon as the proxy answers.
 */

const at = (iso: string) => Date.parse(iso);
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

t.test('RESULT of a schedule on a node without its proxy says next and runs', async (t) => {
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
});
