import t from 'tap';
import { LatencyHistogram, Metrics } from '../shared/metrics.js';

t.test("a latency histogram is written out as prom-client's own are", async (t) => {
  const theirs = new Metrics('p_', { proxy: 'p1' });
  const ours = new Metrics('p_', { proxy: 'p1' });
  const byState = theirs.histogram('wait_seconds', 'help', ['state']);
  const plain = theirs.histogram('run_seconds', 'help too');
  const mine = new LatencyHistogram('p_wait_seconds', 'help', 'state');
  const minePlain = new LatencyHistogram('p_run_seconds', 'help too');
  ours.registry.registerMetric(mine as never);
  ours.registry.registerMetric(minePlain as never);
  t.equal(await ours.registry.metrics(), await theirs.registry.metrics(), 'nothing observed yet');
  // on, between and beyond the bucket bounds, and above the last one
  for (const v of [0, 1e-9, 0.0004, 0.0005, 0.001, 0.025, 0.3, 2.5, 700]) {
    byState.observe({ state: 'done' }, v);
    mine.observe(v, 'done');
    byState.observe({ state: 'failed' }, v * 2);
    mine.observe(v * 2, 'failed');
    plain.observe(v);
    minePlain.observe(v);
  }
  t.equal(await ours.registry.metrics(), await theirs.registry.metrics());
});
