import t from 'tap';
import {
  DEFAULT_DETECTOR,
  deadline,
  HeartbeatHistory,
  judge,
  phi,
  SuspicionLedger,
} from '../proxy/failure-detector.js';

const opts = { ...DEFAULT_DETECTOR, maxSilenceMs: 1500 };

/** A history of heartbeats `every` ms apart, each off by up to ±`jitter` (deterministic). */
function steady(every: number, jitter = 0, n = 60): HeartbeatHistory {
  const h = new HeartbeatHistory(opts.window);
  let now = 0;
  for (let i = 0; i < n; i++) {
    h.beat(now);
    now += every + (i % 2 === 0 ? jitter : -jitter);
  }
  return h;
}

t.test('phi grows with silence and is low before the expected beat', async (t) => {
  t.ok(phi(100, 250, 50) < 0.5, 'early: hardly suspicious');
  t.ok(phi(250, 250, 50) > 0.25 && phi(250, 250, 50) < 0.35, 'at the mean: about 0.3 (p = 0.5)');
  const values = [300, 500, 800, 1200].map((e) => phi(e, 250, 50));
  for (let i = 1; i < values.length; i++) t.ok(values[i]! > values[i - 1]!, 'monotonic');
  t.equal(phi(1e9, 250, 1), Infinity, 'far out it is infinite, not NaN');
});

t.test('a steady node is declared dead well inside the upper bound', async (t) => {
  const h = steady(250);
  t.equal(h.samples, 59);
  t.equal(Math.round(h.mean), 250);
  t.equal(judge(h, 300, opts), 'alive', 'one late beat is no verdict');
  t.equal(judge(h, 500, opts), 'alive');
  const at = deadline(h, opts);
  t.ok(at > 500 && at < 1000, `declared at ${Math.round(at)} ms, not 1500`);
  t.equal(judge(h, at + 1, opts), 'phi');
  t.equal(judge(h, 1501, opts), 'timeout');
});

t.test('a ragged rhythm (a saturated CPU) earns a longer allowance', async (t) => {
  const calm = deadline(steady(250, 10), opts);
  const ragged = deadline(steady(250, 200), opts);
  t.ok(ragged > calm, `ragged ${Math.round(ragged)} ms > calm ${Math.round(calm)} ms`);
  t.equal(judge(steady(250, 200), calm + 1, opts), 'alive', 'not dead where a calm one would be');
  t.equal(deadline(steady(250, 400), opts), 1500, 'very ragged: only the upper bound applies');
});

t.test('without enough history only the upper bound applies', async (t) => {
  const h = steady(250, 0, 3);
  t.equal(judge(h, 1400, opts), 'alive');
  t.equal(judge(h, 1501, opts), 'timeout');
  t.equal(deadline(h, opts), 1500);
  h.reset();
  t.equal(h.samples, 0);
  t.equal(h.mean, 0);
  t.equal(h.stdDev, 0);
});

t.test('the history is a window: old rhythm is forgotten', async (t) => {
  const h = new HeartbeatHistory(10);
  let now = 0;
  for (let i = 0; i < 10; i++) h.beat((now += 1000));
  for (let i = 0; i < 10; i++) h.beat((now += 100));
  t.equal(h.samples, 10);
  t.equal(Math.round(h.mean), 100);
  t.equal(Math.round(h.stdDev), 0);
});

t.test('the ledger counts verdicts and those proved wrong', async (t) => {
  const l = new SuspicionLedger();
  l.suspected('a', 1500);
  l.suspected('b', 1500);
  l.suspected('c', 1500);
  t.equal(l.graceLeft('a', 1000), 500);
  t.equal(l.graceLeft('unknown', 1000), 0);
  t.equal(l.settle('a', true, 1200), true, 'answered before the upper bound: a mistake');
  t.equal(l.settle('b', true, 1600), false, 'answered after it: NODE_TIMEOUT would agree');
  t.equal(l.settle('c', false, 1200), false, 'never answered: really gone');
  t.equal(l.settle('a', true, 1300), false, 'settled once');
  t.equal(l.suspicions, 3);
  t.equal(l.falseSuspicions, 1);
});
