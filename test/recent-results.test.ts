import t from 'tap';
import { RecentResults, type DeliveredResult } from '../node/recent-results.js';
import type { JobResult } from '../shared/job-view.js';

/** The results an origin keeps to tell a new proxy (node/recent-results.ts). */

const entry = (n: number, at: number, output = ''): DeliveredResult => ({
  id: `T${n}`,
  spec: { type: 'echo', args: [], priority: 0, maxAttempts: 3 },
  submittedAt: at,
  at,
  result: { id: `T${n}`, state: 'done', output } as JobResult,
});
const ids = (r: RecentResults, now: number) => r.since(now).map((e) => e.id);

t.test('kept for the window, oldest first', async (t) => {
  const r = new RecentResults(1000, 100, 1000);
  for (let i = 0; i < 5; i++) r.add(entry(i, i * 300));
  t.same(ids(r, 1200), ['T1', 'T2', 'T3', 'T4'], 'older than the window: gone');
  r.forget(1650);
  t.equal(r.size, 2, 'forgotten without a newer one');
  t.same(ids(r, 5000), [], 'all gone a window later');
  t.equal(r.size, 0);
});

t.test('at most `max`, and at most so much output text', async (t) => {
  const counted = new RecentResults(10_000, 3, 1000);
  for (let i = 0; i < 5; i++) counted.add(entry(i, 0));
  t.same(ids(counted, 0), ['T2', 'T3', 'T4'], 'the newest three');
  const texts = new RecentResults(10_000, 100, 10);
  texts.add(entry(0, 0, 'aaaa'));
  texts.add(entry(1, 0, 'bbbb'));
  texts.add(entry(2, 0, 'cccc'));
  t.same(ids(texts, 0), ['T1', 'T2'], 'the oldest output went');
});

t.test('a long run stays bounded in memory', async (t) => {
  const r = new RecentResults(50, 1000, 1e9);
  for (let i = 0; i < 20_000; i++) r.add(entry(i, i));
  t.equal(r.size, 51, 'the last window');
  t.ok(
    (r as unknown as { entries: unknown[] }).entries.length < 2200,
    'the dropped front is let go',
  );
});
