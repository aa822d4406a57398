import t from 'tap';
import { alternateRounds, firstInRound, roundFigures, type Pass } from '../bench/peer-rounds.js';

const pass = (jobs: number, seconds: number, systemMs = 0, generatorMs = 0): Pass => ({
  jobs,
  seconds,
  systemMs,
  generatorMs,
});

t.test('the ratio is the median of the rounds’ own ratios, not of the medians', (t) => {
  // round 2 stalled Petrel, round 3 stalled the peer: neither moves the median ratio
  const mine = [pass(1000, 1), pass(1000, 4), pass(1100, 1)];
  const theirs = [pass(1000, 1), pass(1000, 1), pass(1000, 5)];
  const f = roundFigures(mine, theirs);
  t.same(f.ratios, [1, 0.25, 5.5]);
  t.equal(f.ratio, 1);
  t.equal(f.perSecond, 1000, 'median of 1000, 250 and 1100 jobs/s');
  t.equal(f.peerPerSecond, 1000);
  t.equal(f.jobs, 3100);
  t.equal(f.seconds, 6);
  t.end();
});

t.test('CPU per job is over every measured round', (t) => {
  const f = roundFigures(
    [pass(1000, 1, 40, 4), pass(3000, 1, 80, 8)],
    [pass(2000, 1, 50, 40), pass(2000, 1, 50, 40)],
  );
  t.same(f.cpu, { systemUs: 30, generatorUs: 3 });
  t.same(f.peerCpu, { systemUs: 25, generatorUs: 20 });
  t.end();
});

t.test('without a peer the system’s figures stand alone', (t) => {
  const f = roundFigures([pass(500, 1), pass(700, 1), pass(600, 1)], []);
  t.equal(f.perSecond, 600);
  t.ok(Number.isNaN(f.ratio));
  t.ok(Number.isNaN(f.peerPerSecond));
  t.same(f.ratios, []);
  t.throws(() => roundFigures([pass(1, 1)], [pass(1, 1), pass(1, 1)]), /both sides/);
  t.throws(() => roundFigures([], []), /both sides/);
  t.end();
});

t.test('rounds alternate ABBA after one unmeasured pass of each', async (t) => {
  t.same([0, 1, 2, 3].map(firstInRound), ['system', 'peer', 'system', 'peer']);
  const calls: string[] = [];
  let n = 0;
  const side = (name: string) => ({
    pids: {},
    pass: () => {
      calls.push(name);
      n++;
      return Promise.resolve({ jobs: name === 'P' ? 100 * n : 100, seconds: 1 });
    },
  });
  const logged: string[] = [];
  const f = await alternateRounds(side('P'), side('B'), 3, (l) => logged.push(l));
  t.same(calls, ['P', 'B', 'P', 'B', 'B', 'P', 'P', 'B']);
  t.same(logged, ['round 1 of 3', 'round 2 of 3', 'round 3 of 3']);
  // P's passes: n = 1 (warm, not counted), 3, 6, 7
  t.equal(f.jobs, 300 + 600 + 700, 'the warm-up pass is not counted');
  t.same(f.ratios, [3, 6, 7]);
  const alone = await alternateRounds(side('P'), undefined, 2, () => {});
  t.equal(alone.jobs, 1000 + 1100, 'alone: its own two measured passes (n = 10, 11)');
  t.end();
});
