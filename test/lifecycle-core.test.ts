import t from 'tap';
import { Dependencies } from '../proxy/dependencies.js';
import { DueQueue } from '../proxy/due-queue.js';
import { parseJobQuery } from '../proxy/job-query.js';
import { mayRetry, retryDelay } from '../proxy/retries.js';

t.test('the due queue gives items back in time order, only once due', (t) => {
  const q = new DueQueue<string>();
  q.add('c', 300);
  q.add('a', 100);
  q.add('b', 200);
  t.equal(q.next(), 100);
  t.same(q.takeDue(99), []);
  t.same(q.takeDue(200), ['a', 'b']);
  q.add('d', 250);
  q.add('c', 50); // moved earlier
  t.same(q.takeDue(60), ['c']);
  t.ok(q.remove('d'));
  t.notOk(q.remove('d'), 'removed once');
  t.equal(q.next(), undefined);
  t.equal(q.size, 0);
  t.end();
});

t.test('retry waits double each time, capped, within 20% jitter', (t) => {
  const spec = { retry: { attempts: 5, backoffMs: 200, maxBackoffMs: 700 } };
  const mid = () => 0.5;
  t.same(
    [1, 2, 3, 4].map((n) => retryDelay(spec, n, mid)),
    [200, 400, 700, 700],
  );
  t.equal(
    retryDelay(spec, 1, () => 0),
    160,
    'the low end of the jitter',
  );
  t.equal(
    retryDelay(spec, 2, () => 0.999999),
    480,
    'the high end of the jitter',
  );
  t.ok(mayRetry(spec, 4), 'a fifth run after four failures');
  t.notOk(mayRetry(spec, 5), 'attempts counts every run');
  t.notOk(mayRetry({}, 1), 'no retry policy: one run');
  t.end();
});

t.test('dependencies release a job when its last ticket is done, doom it when one fails', (t) => {
  const deps = new Dependencies<{ id: string }>();
  const x = { id: 'x' };
  const y = { id: 'y' };
  deps.block(x, ['a', 'b']);
  deps.block(y, ['b']);
  t.same(deps.settle('a', 'done'), { released: [], doomed: [] });
  t.same(deps.settle('b', 'done'), { released: [x, y], doomed: [] });
  t.equal(deps.blocked, 0);
  deps.block(x, ['c', 'd']);
  t.same(deps.settle('c', 'failed'), { released: [], doomed: [x] });
  t.same(deps.settle('d', 'done'), { released: [], doomed: [] }, 'a doomed job is forgotten');
  deps.block(y, ['e']);
  deps.forget(y);
  t.same(deps.settle('e', 'cancelled'), { released: [], doomed: [] });
  t.end();
});

t.test('GET /api/jobs queries are checked', (t) => {
  const q = (s: string) => parseJobQuery(new URLSearchParams(s));
  t.same(q('state=failed&tenant=acme&limit=5'), {
    ok: true,
    filter: { state: 'failed', tenant: 'acme', limit: 5 },
  });
  t.same(q(''), { ok: true, filter: { limit: 100 } });
  t.match(q('state=lost'), { ok: false, message: /state is one of/ });
  t.match(q('limit=0'), { ok: false });
  t.match(q('limit=abc'), { ok: false });
  t.match(q('tenant=a%20b'), { ok: false });
  t.end();
});
