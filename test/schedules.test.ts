import t from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

/**
 * A schedule fires once per due time whatever the number of nodes, its runs are ordinary
 * tickets any node answers for, and CANCEL stops it. `* * * * *` is minute-granular: this
 * file waits for one due time (up to ~60 s).
 */

const json = (line: string) => JSON.parse(line.replace(/^OK /, '')) as Record<string, unknown>;

t.test('a cron job fires once per due time across three nodes; CANCEL stops it', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const clients: LineClient[] = [];
  for (const id of ['a', 'b', 'c']) {
    const n = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: id });
    clients.push(await LineClient.connect(n.port, t.teardown));
  }
  const [a, b, c] = clients as [LineClient, LineClient, LineClient];
  t.match(
    await a.ask('SUBMIT {"type":"echo","args":["tick"],"cron":"* * * *"}'),
    /^ERR BAD_REQUEST cron: cron takes 5 fields/,
  );
  const submitted = await a.ask('SUBMIT {"type":"echo","args":["tick"],"cron":"* * * * *"}');
  t.match(submitted, /^OK [0-9A-Z]{26}$/);
  const schedule = submitted.slice(3);

  const first = json(
    await until(async () => {
      const r = await b.ask(`RESULT ${schedule}`);
      return r.startsWith('OK ') && json(r).state === 'scheduled' ? r : null;
    }),
  );
  const next = Date.parse(first.next as string);
  t.match(first, { ticket: schedule, state: 'scheduled', cron: '* * * * *', tz: 'UTC', runs: [] });
  t.equal(next % 60_000, 0, 'next is a whole minute');
  t.ok(next > Date.now() - 1000 && next <= Date.now() + 60_000, 'within the coming minute');
  t.equal(await c.ask(`STATUS ${schedule}`), 'OK scheduled');

  const fired = json(
    await until(
      async () => {
        const r = await c.ask(`RESULT ${schedule}`);
        return (json(r).runs as unknown[]).length > 0 ? r : null;
      },
      90_000,
      'the first firing',
    ),
  );
  const runs = fired.runs as Array<{ ticket: string; state: string }>;
  t.equal(runs.length, 1, 'one run for one due time, with three nodes');
  t.equal(Date.parse(fired.next as string), next + 60_000, 'next moved one minute on');
  const run = runs[0]?.ticket as string;
  t.not(run, schedule, 'a run has its own ticket');
  for (const client of [a, b, c]) {
    t.match(json(await client.ask(`WAIT ${run} 10000`)), {
      ticket: run,
      state: 'done',
      output: 'tick',
    });
  }
  t.match(json(await a.ask(`RESULT ${schedule}`)).runs, [{ ticket: run, state: 'done' }]);

  t.equal(await b.ask(`CANCEL ${schedule}`), 'OK cancelled');
  const after = json(await a.ask(`RESULT ${schedule}`));
  t.match(after, { state: 'cancelled' });
  t.notOk(after.next, 'no next firing');
  t.equal(await c.ask(`CANCEL ${schedule}`), 'OK cancelled', 'cancelling again is harmless');
  const fires = proxy.proc.output.filter((l) => l.includes('schedule fired'));
  t.equal(fires.length, 1, 'the proxy fired once');
});
