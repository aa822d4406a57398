import t from 'tap';
import { capsOf, classKey, eligible, fits, needsOf, waitingReason } from '../proxy/placement.js';

t.test('needs and classes', async (t) => {
  t.equal(classKey(needsOf({ type: 'echo' })), '', 'a built-in unconstrained job: the open class');
  const n = needsOf({
    type: 'resize',
    constraints: { labels: ['b', 'a', 'b'] },
    resources: { cpu: 2 },
  });
  t.same(n, { labels: ['a', 'b'], cpu: 2, memMb: 0, type: 'resize' });
  t.equal(
    classKey(n),
    classKey(
      needsOf({ type: 'resize', constraints: { labels: ['a', 'b'] }, resources: { cpu: 2 } }),
    ),
  );
});

t.test('eligible and fits', async (t) => {
  const caps = capsOf({ labels: ['gpu', 'zone=eu'], cpus: 4, memMb: 1024, types: ['resize'] });
  t.ok(eligible(caps, needsOf({ type: 'resize', constraints: { labels: ['gpu'] } })));
  t.notOk(eligible(caps, needsOf({ type: 'thumb' })));
  t.notOk(eligible(caps, needsOf({ type: 'echo', resources: { cpu: 5 } })));
  t.notOk(eligible(caps, needsOf({ type: 'echo', constraints: { labels: ['zone=us'] } })));
  const tenth = needsOf({ type: 'echo', resources: { cpu: 0.1 } });
  t.ok(fits(capsOf({ cpus: 1 }), { cpu: 0.9, memMb: 0 }, tenth), 'fractions add up to a whole cpu');
  t.notOk(fits(caps, { cpu: 3.5, memMb: 0 }, needsOf({ type: 'echo', resources: { cpu: 1 } })));
  t.notOk(fits(caps, { cpu: 0, memMb: 1000 }, needsOf({ type: 'echo', resources: { memMb: 25 } })));
});

t.test('the waiting reason names the first requirement no node meets', async (t) => {
  const nodes = [
    capsOf({ labels: ['gpu'], cpus: 2, memMb: 512 }),
    capsOf({ cpus: 16, memMb: 64_000 }),
  ];
  const why = (spec: Parameters<typeof needsOf>[0]) => waitingReason(needsOf(spec), nodes);
  t.equal(why({ type: 'echo' }), undefined);
  t.equal(why({ type: 'echo', constraints: { labels: ['tpu'] } }), 'no node has labels tpu');
  t.equal(why({ type: 'echo', resources: { cpu: 32 } }), 'no node has 32 cpu');
  t.equal(why({ type: 'echo', resources: { cpu: 8 } }), undefined, 'the big node could');
  t.equal(
    why({ type: 'echo', constraints: { labels: ['gpu'] }, resources: { cpu: 8 } }),
    'no node with labels gpu has 8 cpu',
  );
  t.equal(why({ type: 'echo', resources: { memMb: 100_000 } }), 'no node has 100000 MB of memory');
  t.equal(why({ type: 'resize' }), 'no worker for type resize');
  t.equal(waitingReason(needsOf({ type: 'echo', resources: { cpu: 1 } }), []), 'no node has 1 cpu');
});
