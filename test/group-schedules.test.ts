import t from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';
import {
  clusterOf,
  etcd,
  leaderOf,
  NO_ETCD,
  startGroup,
  startGroupNodes,
  type GroupProxy,
} from './helpers/group.js';

/**
 * Schedules and registered job types are the group's, kept in etcd: what one leader accepted
 * the next one knows. The schedule's due time is chosen 20-80 s ahead, after the first leader
 * is gone, so this file waits up to 80 s for it.
 */

const json = (line: string) => JSON.parse(line.replace(/^OK /, '')) as Record<string, unknown>;

if (!etcd) {
  t.comment(`skipped: ${NO_ETCD}`);
  t.pass('skipped: etcd is absent');
} else {
  t.test('a proxy that ran alone brings its schedules and types into its group', async (t) => {
    const dir = tempDir(t.teardown);
    const alone = await spawnProxy(t.teardown, dir);
    const node = await spawnNode(t.teardown, alone.port, tempDir(t.teardown), { NODE_ID: 'solo' });
    const c = await LineClient.connect(node.port, t.teardown);
    const submitted = await c.ask('SUBMIT {"type":"echo","args":["new year"],"cron":"0 0 1 1 *"}');
    t.match(submitted, /^OK [0-9A-Z]{26}$/);
    const schedule = submitted.slice(3);
    t.equal(await c.ask('WORKER resize'), 'OK worker');
    await until(async () => ((await clusterOf(alone.port)).types ?? []).includes('resize'));
    await node.proc.kill('SIGTERM');
    await alone.proc.kill('SIGTERM');

    // the same file, now the first proxy of a group: it leads first and carries them over
    const g = await startGroup(t.teardown, 2, {}, [dir]);
    const urls = g.proxies.map((p) => p.url).join(',');
    const nodes = await startGroupNodes(t.teardown, urls, 1);
    const first = await leaderOf(g.proxies, 1);
    t.equal(first, g.proxies[0], 'the proxy started first leads');
    const ask = await LineClient.connect(nodes[0]!.port, t.teardown);
    const next = async () => json(await ask.ask(`RESULT ${schedule}`)).next;
    t.match(await next(), /^\d{4}-01-01T00:00:00/, 'the group fires it');
    t.ok(
      first.proc.output.some((l) => l.includes('carried this proxy')),
      'it says so',
    );

    // the other proxy never had the file: it knows them from etcd
    await first.proc.kill('SIGKILL');
    const other = await leaderOf([g.proxies[1]!], 1);
    t.match(await next(), /^\d{4}-01-01T00:00:00/, 'the next leader fires it too');
    t.same((await clusterOf(other.port)).types, ['resize'], 'and knows the type');
  });

  t.test('a schedule and a type accepted under one leader live on under the next', async (t) => {
    const g = await startGroup(t.teardown, 2);
    const urls = g.proxies.map((p) => p.url).join(',');
    const nodes = await startGroupNodes(t.teardown, urls, 2);
    const a = await leaderOf(g.proxies, 2);
    const b = g.proxies.find((p) => p !== a) as GroupProxy;
    const c = await LineClient.connect(nodes[0]!.port, t.teardown);

    const worker = await LineClient.connect(nodes[1]!.port, t.teardown);
    t.equal(await worker.ask('WORKER resize'), 'OK worker');
    await until(async () => ((await clusterOf(a.port)).types ?? []).includes('resize'));
    worker.close();
    // its node no longer serves the type: only the group's record can make it known later
    await until(async () =>
      (await clusterOf(a.port)).nodes.every((n) => Object.keys(n.workers).length === 0),
    );

    // a due time the first leader never reaches: at least 20 s ahead, and only a takeover
    // (about ETCD_LEASE_TTL, 2 s) comes between the submission and the leader's death
    const minute = new Date(Date.now() + 80_000).getUTCMinutes();
    const cron = `${minute} * * * *`;
    const submitted = await c.ask(`SUBMIT {"type":"echo","args":["tick"],"cron":"${cron}"}`);
    t.match(submitted, /^OK [0-9A-Z]{26}$/);
    const schedule = submitted.slice(3);
    const due = await until(async () => {
      const v = json(await c.ask(`RESULT ${schedule}`));
      return typeof v.next === 'string' ? Date.parse(v.next) : null;
    });
    t.equal(new Date(due).getUTCMinutes(), minute, 'the leader holds it');

    await a.proc.kill('SIGKILL');
    t.equal(await leaderOf([b], 2), b, 'the other proxy leads');
    t.ok(Date.now() < due, `the takeover came before the due time (${due - Date.now()} ms before)`);
    t.same((await clusterOf(b.port)).types, ['resize'], 'the new leader knows the type');
    const [late] = await startGroupNodes(t.teardown, urls, 1, 3);
    await leaderOf([b], 3);
    const fresh = await LineClient.connect(late!.port, t.teardown);
    t.match(await fresh.ask('SUBMIT resize a.png'), /^OK [0-9A-Z]{26}$/, 'a new node accepts it');

    const fired = await until(
      async () => {
        const v = json(await c.ask(`RESULT ${schedule}`));
        return (v.runs as unknown[]).length > 0 ? v : null;
      },
      120_000,
      'the firing under the new leader',
    );
    const runs = fired.runs as Array<{ ticket: string }>;
    t.equal(runs.length, 1, 'one run for the due time');
    t.equal(Date.parse(fired.next as string), due + 3_600_000, 'next is an hour on');
    t.match(json(await c.ask(`WAIT ${runs[0]!.ticket} 20000`, 25_000)), {
      state: 'done',
      output: 'tick',
    });
    const firings = (p: GroupProxy) => p.proc.output.filter((l) => l.includes('schedule fired'));
    t.equal(firings(b).length, 1, 'the new leader fired it once');
    t.equal(firings(a).length, 0, 'the first leader never did');
  });
}
