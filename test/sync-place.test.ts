import t from 'tap';
import { IDLE_RATIO, MAX_LOOP_SYNC_MS, SyncPlacer } from '../shared/sync-place.js';

/** A placer on a clock the test sets. */
function placer(placement: 'adaptive' | 'pool' = 'adaptive') {
  const clock = { now: 0 };
  return { p: new SyncPlacer(placement, () => clock.now), clock };
}

t.test('the first sync of a process runs on the loop', (t) => {
  const { p } = placer();
  t.ok(p.begin());
  t.equal(p.onLoopCount, 1);
  t.end();
});

t.test(
  'a sync runs on the loop only after the disk was idle IDLE_RATIO times the last one',
  (t) => {
    const { p, clock } = placer();
    clock.now = 100;
    p.begin();
    clock.now = 101; // took 1 ms
    p.end();
    t.notOk(p.begin(), 'right after it: the pool');
    clock.now = 102; // took 1 ms on the pool
    p.end();
    clock.now = 102 + IDLE_RATIO - 0.5;
    t.notOk(p.begin(), 'short of the idle time: the pool');
    clock.now += 1;
    p.end();
    clock.now += IDLE_RATIO;
    t.ok(p.begin(), 'idle IDLE_RATIO times its length: the loop');
    t.equal(p.onLoopCount, 2);
    t.end();
  },
);

t.test('a sync that took no time asks no idle time', (t) => {
  const { p, clock } = placer();
  p.begin();
  p.end();
  t.ok(p.begin());
  clock.now = 0.5;
  p.end();
  t.notOk(p.begin(), 'one that took 0.5 ms asks 2 ms');
  t.end();
});

t.test('syncs that follow one another stay on the pool', (t) => {
  const { p, clock } = placer();
  let onLoop = 0;
  for (let i = 0; i < 100; i++) {
    if (p.begin()) onLoop++;
    clock.now += 0.5;
    p.end();
    clock.now += 0.1; // the next batch commits 0.1 ms after the sync ends
  }
  t.equal(onLoop, 1, 'only the first');
  t.end();
});

t.test('a slow sync sends the next to the pool however idle the disk', (t) => {
  const { p, clock } = placer();
  p.begin();
  clock.now = MAX_LOOP_SYNC_MS + 1;
  p.end();
  clock.now = 1_000_000;
  t.notOk(p.begin());
  clock.now += 1;
  p.end();
  clock.now = 2_000_000;
  t.ok(p.begin(), 'a fast sync on the pool brings it back');
  t.end();
});

t.test("'pool' never runs a sync on the loop", (t) => {
  const { p, clock } = placer('pool');
  t.notOk(p.begin());
  clock.now = 0.1;
  p.end();
  clock.now = 1_000_000;
  t.notOk(p.begin());
  t.equal(p.onLoopCount, 0);
  t.end();
});
