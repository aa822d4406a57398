import t from 'tap';
import { LineClient, serveNodeHttp, startCluster } from './helpers/cluster.js';

t.test('a cron that names no existing date is refused, not kept forever', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  for (const cron of ['0 0 30 2 *', '0 12 31 4 *', '0 0 31 11 *']) {
    const r = await c.ask(`SUBMIT {"type":"echo","args":["x"],"cron":"${cron}"}`);
    t.ok(r.startsWith(`ERR BAD_REQUEST cron: ${cron} never fires`), r);
  }
  // February 29th exists (in leap years): a schedule that waits for it is fine
  t.match(await c.ask('SUBMIT {"type":"echo","args":["x"],"cron":"0 0 29 2 *"}'), /^OK /);
  t.match(await c.ask('LIST scheduled'), /^OK 1$/, 'only the schedule that fires is kept');

  const base = await serveNodeHttp(t.teardown, nodes[0]!);
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    body: JSON.stringify({ type: 'echo', args: ['x'], cron: '0 0 30 2 *' }),
  });
  t.equal(res.status, 400, 'HTTP: 400');
  t.match(await res.json(), { error: { code: 'BAD_REQUEST', message: /never fires/ } });
});

t.test('after naming a schedule says so (it is known, and never ends)', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const r = await c.ask('SUBMIT {"type":"echo","args":["x"],"cron":"0 0 1 1 *"}');
  t.match(r, /^OK /);
  const schedule = r.slice(3);
  const started = Date.now();
  t.match(
    await c.ask(`SUBMIT {"type":"echo","args":["then"],"after":["${schedule}"]}`, 20_000),
    new RegExp(`^ERR BAD_REQUEST after: ${schedule} is a schedule`),
  );
  t.ok(Date.now() - started < 3000, 'refused without waiting for it to arrive');
});
