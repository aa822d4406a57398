import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';

t.test("the dashboard's JSON: cluster, history, a job by ticket, clear errors", async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1);
  const base = `http://127.0.0.1:${proxy.port}`;
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(base + path, init);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const cluster = await get('/api/cluster');
  t.equal(cluster.status, 200);
  t.equal((cluster.body.nodes as unknown[]).length, 1);

  type Sample = { t: number; nodes: Record<string, number> };
  // a sample taken before the node joined rightly names nobody: wait for one taken after
  const joinedBy = Date.now();
  const samples: Sample[] = await until(async () => {
    const list = (await get('/api/history')).body.samples as Sample[];
    return list.length >= 2 && list.at(-1)!.t >= joinedBy ? list : null;
  });
  t.ok(
    samples.every((s, i) => i === 0 || s.t > samples[i - 1]!.t),
    'oldest first',
  );
  t.same(Object.keys(samples.at(-1)!.nodes), ['n1'], 'each sample names the joined nodes');
  const later = await get(`/api/history?since=${samples.at(-1)!.t}`);
  t.ok((later.body.samples as unknown[]).length >= 1, 'since filters by time');
  t.equal((await get('/api/history?since=yesterday')).status, 400);

  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const ticket = (await c.ask('SUBMIT echo found')).slice(3);
  await c.ask(`WAIT ${ticket} 20000`);
  const job = await get(`/api/jobs/${ticket.toLowerCase()}`);
  t.equal(job.status, 200);
  t.match(job.body, { ticket, state: 'done', output: 'found', type: 'echo', args: ['found'] });

  const log = await get(`/api/jobs/${ticket}/logs`);
  t.equal(log.status, 200);
  t.match(
    log.body,
    { node: 'n1', source: 'result', text: 'found', live: false },
    'echo keeps no log',
  );
  t.equal((await get(`/api/jobs/${ticket}/logs?task=1`)).status, 400, 'no task 1 in a plain job');
  t.equal((await get(`/api/jobs/${ticket}/logs?task=x`)).status, 400);
  t.equal((await get(`/api/jobs/${'0'.repeat(26)}/logs`)).status, 404);

  const json = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' };
  const plain = await get(`/api/jobs/${ticket}/retry`, { method: 'POST', body: 'x' });
  t.equal(plain.status, 400, 'a retry that a cross-site form could send is refused');
  const done = await get(`/api/jobs/${ticket}/retry`, json);
  t.equal(done.status, 400, 'a job that is done is not retried');
  t.equal((await get(`/api/jobs/${'0'.repeat(26)}/retry`, json)).status, 404);
  const failed = await get('/api/jobs?state=failed');
  t.same(failed.body, { jobs: [] });

  // the active schedules, the soonest to fire first, each as RESULT shows it with its job
  const weekly = { type: 'echo', args: ['weekly'], cron: '0 9 * * 1', tz: 'Europe/Paris' };
  const minutely = { type: 'echo', args: ['minutely'], cron: '* * * * *' };
  const w = (await c.ask(`SUBMIT ${JSON.stringify(weekly)}`)).slice(3);
  const m = (await c.ask(`SUBMIT ${JSON.stringify(minutely)}`)).slice(3);
  const listed = await until(async () => {
    const r = await get('/api/schedules');
    return (r.body.total as number) === 2 ? r : null;
  });
  t.equal(listed.status, 200);
  t.match(listed.body.schedules, [
    { ticket: m, state: 'scheduled', cron: '* * * * *', tz: 'UTC', type: 'echo' },
    { ticket: w, cron: '0 9 * * 1', tz: 'Europe/Paris', args: ['weekly'], runs: [] },
  ]);
  const one = await get('/api/schedules?limit=1&runs=0');
  t.match(one.body, { schedules: [{ ticket: m }], total: 2 });
  t.equal((one.body.schedules as unknown[]).length, 1);
  for (const bad of ['limit=0', 'limit=1001', 'limit=x', 'runs=21', 'runs=-1', 'limit=1&limit=2']) {
    const r = await get(`/api/schedules?${bad}`);
    t.equal(r.status, 400, bad);
    t.match(r.body, { error: { code: 'BAD_REQUEST' } });
  }
  // Cancel from the dashboard: a schedule stops, and its node hears it
  const cancel = (ticket: string, init: RequestInit = json) =>
    get(`/api/jobs/${ticket}/cancel`, init);
  t.equal((await cancel(w, { method: 'POST', body: 'x' })).status, 400, 'no cross-site form');
  t.match(await cancel(w), { status: 200, body: { ticket: w, state: 'cancelled' } });
  t.match((await get('/api/schedules')).body, { schedules: [{ ticket: m }], total: 1 });
  await until(async () => (await c.ask(`STATUS ${w}`)) === 'OK cancelled');
  t.match(await cancel(ticket), { status: 200, body: { state: 'done' } }, 'an ended job: as it is');
  t.equal((await cancel('0'.repeat(26))).status, 404);
  const sleeper = (await c.ask('SUBMIT sleep 60000')).slice(3);
  await until(async () => (await get(`/api/jobs/${sleeper}`)).body.state === 'running');
  await cancel(sleeper);
  t.match(await c.ask(`WAIT ${sleeper} 20000`), /"state":"cancelled"/, 'a running job stops');

  const notTicket = await get('/api/jobs/nope');
  t.equal(notTicket.status, 400);
  t.match(notTicket.body, { error: { code: 'BAD_REQUEST', message: /not a ticket/ } });
  const unknown = await get(`/api/jobs/${'0'.repeat(26)}`);
  t.equal(unknown.status, 404);
  t.match(unknown.body, { error: { code: 'NOT_FOUND' } });
  t.equal((await get('/api/jobs/%E0%A4%A')).status, 400, 'bad percent-encoding');
  t.equal((await get('/api/nothing')).status, 404);
  const post = await fetch(`${base}/api/cluster`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
});
