import t from 'tap';
import { LineClient, startCluster } from './helpers/cluster.js';
import { jobView, submitSpec } from './helpers/line-jobs.js';

interface View {
  state: string;
  runAt?: string;
  startedAt?: string;
  attempts: number;
}

const submit = submitSpec;
const view = (c: LineClient, verb: 'RESULT' | 'WAIT', ticket: string) =>
  jobView<View>(c, verb, ticket);

t.test('RETRY of a job cancelled before its time waits for that time again', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const other = await LineClient.connect(nodes[1]!.clientPort, t.teardown);

  const far = await submit(c, { type: 'echo', args: ['d'], delayMs: 60_000 });
  const runAt = (await view(c, 'RESULT', far)).runAt;
  t.equal(await c.ask(`CANCEL ${far}`), 'OK cancelled');
  t.equal(await c.ask(`RETRY ${far}`), 'OK queued', 'RETRY answers as DESIGN fixes');
  const v = await view(c, 'RESULT', far);
  t.equal(v.state, 'scheduled', 'not run at once');
  t.equal(v.runAt, runAt, 'its runAt is the time it waits for');
  t.equal(await other.ask(`STATUS ${far}`), 'OK scheduled', 'another node says so too');
  t.equal(await c.ask(`CANCEL ${far}`), 'OK cancelled', 'and it can be cancelled again');

  // a nearer time: RETRY puts it back to wait, and it runs then, not before
  const near = await submit(c, { type: 'echo', args: ['n'], delayMs: 1500 });
  t.equal(await c.ask(`CANCEL ${near}`), 'OK cancelled');
  t.equal(await c.ask(`RETRY ${near}`), 'OK queued');
  t.equal(await c.ask(`STATUS ${near}`), 'OK scheduled', 'it waits for its time');
  const done = await view(c, 'WAIT', near);
  t.equal(done.state, 'done');
  t.ok(Date.parse(done.startedAt!) >= Date.parse(done.runAt!), 'started at its time, not before');

  // a delayed job that ran at its time and failed runs again at once
  const ran = await submit(c, { type: 'sleep', args: [5000], timeoutMs: 50, delayMs: 100 });
  t.equal((await view(c, 'WAIT', ran)).state, 'failed');
  t.equal(await c.ask(`RETRY ${ran}`), 'OK queued', 'its time passed: queued at once');
  const again = await view(c, 'WAIT', ran);
  t.equal(again.state, 'failed');
  t.equal(again.attempts, 2, 'it ran again');
});
