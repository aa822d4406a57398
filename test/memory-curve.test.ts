import t from 'tap';
import {
  curveCsv,
  MIN_JUDGED_JOBS,
  pickRows,
  renderCurve,
  slope,
  verdict,
  verdictLine,
  type CurveSample,
} from '../bench/memory-curve.js';
import { heapUsedOf } from '../bench/memory-sampler.js';

const MiB = 1024 * 1024;

/** A run of `jobs` jobs sampled `n` times; each process's RSS in MiB given by `rss(jobs)`. */
function run(jobs: number, n: number, rss: Record<string, (jobs: number) => number>) {
  const out: CurveSample[] = [];
  for (let i = 0; i <= n; i++) {
    const done = Math.round((jobs * i) / n);
    const byProcess: CurveSample['byProcess'] = Object.fromEntries(
      Object.entries(rss).map(([p, f]) => [p, { rss: f(done) * MiB, heapUsed: 20 * MiB, disk: 0 }]),
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
  const samples = run(2_000_000, 200, {
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
  t.equal(v.fromJobs, 1_000_000);
  t.equal(v.toJobs, 2_000_000);
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

t.test('the table shows evenly spread rows with first and last; the CSV every sample', (t) => {
  const samples = run(1000, 100, { proxy: (j) => 100 + j / 100 });
  const rows = pickRows(samples, 11);
  t.equal(rows.length, 11);
  t.equal(rows[0], samples[0]);
  t.equal(rows.at(-1), samples.at(-1));
  const text = renderCurve(samples, ['proxy'], 11);
  t.match(text, /jobs done/);
  t.match(text, /1,000 +\S+ +110/, 'the last row: 110 MiB at 1,000 jobs');
  const csv = curveCsv(samples, ['proxy']).trim().split('\n');
  t.equal(csv.length, 102, 'header and 101 samples');
  t.equal(csv[0], 'seconds,jobs,proxy_rss,proxy_heap_used,proxy_disk');
  t.end();
});

t.test('the heap used is read from a /metrics exposition', (t) => {
  const text = [
    '# HELP petrel_node_nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
    'petrel_node_nodejs_heap_size_total_bytes{node="n1"} 50000000',
    'petrel_node_nodejs_heap_size_used_bytes{node="n1"} 31457280',
  ].join('\n');
  t.equal(heapUsedOf(text), 31457280);
  t.equal(heapUsedOf('petrel_proxy_nodejs_heap_size_used_bytes 1234\n'), 1234);
  t.ok(Number.isNaN(heapUsedOf('nothing here')));
  t.end();
});
