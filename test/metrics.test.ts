import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { createNodeHttp } from '../node/http.js';
import { LATENCY_BUCKETS } from '../shared/metrics.js';
import { LineClient, startCluster, until } from './helpers/cluster.js';
import { findProgram } from './helpers/programs.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The exposition text as samples and `# TYPE` lines, in the order they were written. */
function parse(text: string): { samples: Sample[]; types: Array<[string, string]> } {
  const samples: Sample[] = [];
  const types: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.push([type[1]!, type[2]!]);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** The value of the one sample named `name` whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) {
    throw new Error(`${found.length} samples ${name} ${JSON.stringify(labels)}`);
  }
  return found[0]!.value;
}

/** Petrel's own series come before the process's (the prefix's process_ and nodejs_ ones). */
function ownSeriesFirst(types: Array<[string, string]>, prefix: string): boolean {
  const isProcess = (name: string) => /^(process|nodejs)_/.test(name.slice(prefix.length));
  const first = types.findIndex(([name]) => isProcess(name));
  return first > 0 && types.slice(first).every(([name]) => isProcess(name));
}

/** A cluster that ran three echo jobs and one failing program, all from node n1. */
async function scrapeBusyCluster(t: Test): Promise<{ proxy: string; node: string }> {
  const { proxy, nodes } = await startCluster(t.teardown, 2, {
    nodeEnv: { EXEC_ALLOW: 'false' },
  });
  const http = createNodeHttp(nodes[0]!);
  t.teardown(() => {
    http.closeAllConnections();
    http.close();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const tickets: string[] = [];
  for (const line of ['SUBMIT echo a', 'SUBMIT echo b', 'SUBMIT echo c', 'SUBMIT exec false']) {
    tickets.push((await c.ask(line)).replace(/^OK /, ''));
  }
  for (const ticket of tickets) t.match(await c.ask(`WAIT ${ticket} 20000`), /^OK \{/);
  const schedule = { type: 'echo', args: ['x'], cron: '0 3 * * *' };
  const sched = (await c.ask(`SUBMIT ${JSON.stringify(schedule)}`)).slice(3);
  await until(() => proxy.scheduler.view(sched) !== null, 10_000, 'the proxy has the schedule');
  const get = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return { proxy: await get(proxy.port), node: await get((http.address() as AddressInfo).port) };
}

t.test('the proxy and nodes write counters, histograms and per-node gauges', async (t) => {
  const scraped = await scrapeBusyCluster(t);
  const proxy = parse(scraped.proxy);
  const p = proxy.samples;

  const typeOf = new Map(proxy.types);
  t.equal(typeOf.get('petrel_proxy_jobs_total'), 'counter');
  t.equal(typeOf.get('petrel_proxy_db_commits_total'), 'counter');
  t.same(
    proxy.types.filter(([name, type]) => name.endsWith('_total') && type !== 'counter'),
    [],
    'every _total series is a counter',
  );
  t.equal(value(p, 'petrel_proxy_jobs_total', { outcome: 'submitted' }), 4);
  t.equal(value(p, 'petrel_proxy_jobs_total', { outcome: 'done' }), 3);
  t.equal(value(p, 'petrel_proxy_jobs_total', { outcome: 'failed' }), 1);
  t.equal(typeOf.get('petrel_proxy_schedules'), 'gauge');
  t.equal(value(p, 'petrel_proxy_schedules'), 1, 'the schedule, active');
  t.equal(value(p, 'petrel_proxy_schedule_firings_total'), 0, 'not due yet');
  t.equal(value(p, 'petrel_proxy_schedule_skipped_firings_total'), 0);

  for (const h of ['queue_wait', 'run']) {
    t.equal(typeOf.get(`petrel_proxy_${h}_seconds`), 'histogram');
    t.equal(value(p, `petrel_proxy_${h}_seconds_count`), 4, `${h}: one sample per job`);
    t.equal(value(p, `petrel_proxy_${h}_seconds_bucket`, { le: '+Inf' }), 4);
  }
  const toResult = 'petrel_proxy_submit_to_result_seconds';
  t.equal(value(p, `${toResult}_count`, { state: 'done' }), 3);
  t.equal(value(p, `${toResult}_count`, { state: 'failed' }), 1);
  const bounds = p
    .filter((s) => s.name === `${toResult}_bucket` && s.labels.state === 'done')
    .map((s) => s.labels.le);
  t.same(bounds, [...LATENCY_BUCKETS.map(String), '+Inf'], 'from 0.5 ms to ten minutes');

  for (const node of ['n1', 'n2']) {
    t.equal(value(p, 'petrel_proxy_node_slots', { node }), 2, `${node}: its slots`);
    t.equal(value(p, 'petrel_proxy_node_running_jobs', { node }), 0, `${node}: idle`);
  }
  t.equal(value(p, 'petrel_proxy_tenant_queued_jobs', { tenant: 'default' }), 0);
  t.equal(value(p, 'petrel_proxy_tenant_outstanding_jobs', { tenant: 'default' }), 0);
  t.equal(value(p, 'petrel_proxy_tenant_weight', { tenant: 'default' }), 1);
  const results = ['n1', 'n2'].map((node) => value(p, 'petrel_proxy_node_results_total', { node }));
  t.equal(results[0]! + results[1]!, 4, 'every result is counted for the node that ran it');
  t.ok(ownSeriesFirst(proxy.types, 'petrel_proxy_'), 'Petrel series before process series');

  const node = parse(scraped.node);
  const n = node.samples;
  t.ok(
    n.every((s) => s.labels.node === 'n1'),
    'every node series is labelled with its node',
  );
  t.equal(new Map(node.types).get('petrel_node_submitted_total'), 'counter');
  t.same(
    node.types.filter(([name, type]) => name.endsWith('_total') && type !== 'counter'),
    [],
    'every _total series of the node is a counter',
  );
  t.equal(value(n, 'petrel_node_submitted_total'), 5, 'four jobs and a schedule');
  t.equal(value(n, 'petrel_node_submit_to_result_seconds_count', { state: 'done' }), 3);
  t.equal(value(n, 'petrel_node_submit_to_result_seconds_count', { state: 'failed' }), 1);
  t.equal(value(n, 'petrel_node_queue_wait_seconds_count'), 4);
  t.equal(
    value(n, 'petrel_node_run_seconds_count'),
    value(n, 'petrel_node_executed_total'),
    'one run sample per run on this node',
  );
  t.ok(ownSeriesFirst(node.types, 'petrel_node_'), 'Petrel series before process series');
});

const promtool = findProgram('promtool');
const noPromtool = 'promtool is missing: install it with "apt-get install -y prometheus"';

t.test(
  'promtool check metrics accepts both endpoints',
  { skip: !promtool && noPromtool },
  async (t) => {
    if (!promtool) return;
    const scraped = await scrapeBusyCluster(t);
    for (const [who, body] of Object.entries(scraped)) {
      const r = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
      t.equal(r.status, 0, `${who}: promtool exits 0`);
      t.equal(`${r.stdout}${r.stderr}`.trim(), '', `${who}: promtool reports no problem`);
    }
  },
);
