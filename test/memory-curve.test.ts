import t from 'tap';
import {
  curveCsv,
  MIN_JUDGED_JOBS,
  intervals,
  parseCurveCsv,
  renderCurve,
  slope,
  verdict,
  verdictLine,
  type CurveSample,
} from '../bench/memory-curve.js';
import { heapUsedOf, heldOf } from '../bench/memory-sampler.js';

const MiB = 1024 * 1024;

/** A run of `jobs` jobs sampled `n` times; each process's RSS in MiB given by `rss(jobs)`. */
function run(jobs: number, n: number, rss: Record<string, (jobs: number) => number>) {
  const out: CurveSample[] = [];
  for (let i = 0; i <= n; i++) {
    const done = Math.round((jobs * i) / n);
    const byProcess: CurveSample['byProcess'] = Object.fromEntries(
      Object.entries(rss).map(([p, f]) => [
        p,
        { rss: f(done) * MiB, heapUsed: 20 * MiB, disk: 0, held: 0 },
      ]),
    );
    out.push({ seconds: i * 5, jobs: done, byProcess });
  }
  return out;
}

t.test('slope is the least-squares fit, NaN without two points', (t) => {
  t.ok(Number.isNaN(slope([])));
  t.ok(Number.isNaN(slope([[1, 2]])));
  t.ok(
    Number.isNaN(
      slope([
        [1, 2],
        [1, 5],
      ]),
    ),
    'one distinct x',
  );
  t.equal(
    slope([
      [0, 1],
      [1, 3],
      [2, 5],
    ]),
    2,
  );
  t.equal(
    slope([
      [0, 0],
      [1, NaN],
      [2, 4],
    ]),
    2,
    'gaps are skipped',
  );
  t.end();
});

t.test('a curve that levels off is flat; one that keeps climbing is not', (t) => {
  const samples = run(4_000_000, 200, {
    // grows 40 MiB over the first 400,000 jobs, then stays, with a sawtooth of 8 MiB
    proxy: (j) => 100 + Math.min(40, j / 10_000) + ((j / 1000) % 8),
    // 12 MiB per million jobs for ever
    'bench-1': (j) => 100 + (12 * j) / 1e6,
  });
  const v = verdict(samples, ['proxy', 'bench-1'], 2);
  t.ok(v.judged);
  t.ok(Math.abs(v.rssGrowth.proxy as number) < 2, `proxy ${v.rssGrowth.proxy}`);
  t.ok(Math.abs((v.rssGrowth['bench-1'] as number) - 12) < 0.01, 'MiB per million jobs');
  t.equal(v.worst.process, 'bench-1');
  t.notOk(v.flat);
  t.equal(v.fromJobs, 2_000_000);
  t.equal(v.toJobs, 4_000_000);
  t.match(verdictLine(v, 2), /GROWING \(bench-1 above 2 MiB/);

  const level = verdict(samples, ['proxy'], 2);
  t.ok(level.flat);
  t.match(verdictLine(level, 2), /flat/);
  t.end();
});

t.test('a run too short to judge says so and is never called flat', (t) => {
  const v = verdict(run(MIN_JUDGED_JOBS, 20, { proxy: () => 100 }), ['proxy'], 2);
  t.notOk(v.judged);
  t.notOk(v.flat);
  t.match(verdictLine(v, 2), /too short to judge/);
  t.end();
});

t.test(
  'the table has a row per interval with the lowest and highest in each; the CSV every sample',
  (t) => {
    const samples = run(1000, 100, { proxy: (j) => 100 + j / 100 });
    const groups = intervals(samples, 10);
    t.equal(groups.length, 10);
    t.same(
      groups.map((g) => g.length),
      Array(10).fill(10),
      'the first sample is the start, outside them',
    );
    t.equal(groups[0]?.[0]?.jobs, 10);
    t.equal(groups.at(-1)?.at(-1)?.jobs, 1000);
    const lines = renderCurve(samples, ['proxy'], 10).split('\n');
    t.equal(lines.length, 2 + 11, 'legend, header, the start and ten intervals');
    t.match(
      lines.at(-1),
      /^ *1,000 +\S+ +109–110 +20–20 +0$/,
      'RSS 109.1–110 MiB in the last tenth',
    );
    const csv = curveCsv(samples, ['proxy']).trim().split('\n');
    t.equal(csv.length, 102, 'header and 101 samples');
    t.equal(csv[0], 'seconds,jobs,proxy_rss,proxy_heap_used,proxy_disk,proxy_held');
    t.same(parseCurveCsv(csv.join('\n')), { samples, processes: ['proxy'] }, 'read back');
    t.end();
  },
);

t.test('the heap used is read from a /metrics exposition', (t) => {
  const text = [
    '# HELP petrel_node_nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
    'petrel_node_nodejs_heap_size_total_bytes{node="n1"} 50000000',
    'petrel_node_nodejs_heap_size_used_bytes{node="n1"} 31457280',
  ].join('\n');
  t.equal(heapUsedOf(text), 31457280);
  t.equal(heapUsedOf('petrel_proxy_nodejs_heap_size_used_bytes 1234\n'), 1234);
  t.ok(Number.isNaN(heapUsedOf('nothing here')));
  t.equal(heldOf('petrel_proxy_live_jobs 12\n'), 12, "the proxy's live jobs");
  t.equal(heldOf('petrel_node_open_tickets{node="n1"} 3\n'), 3, "a node's open tickets");
  t.end();
});
