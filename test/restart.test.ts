import t from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir } from './helpers/cluster.js';

t.test(
  'kill -9 of a node, then a restart on the same DATA_DIR: its tickets still answer',
  async (t) => {
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
    const nodeDir = tempDir(t.teardown);
    const first = await spawnNode(t.teardown, proxy.port, nodeDir, { NODE_ID: 'keeper' });
    const other = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      NODE_ID: 'other',
    });

    const c = await LineClient.connect(first.port, t.teardown);
    const tickets: string[] = [];
    for (let i = 0; i < 20; i++) tickets.push((await c.ask(`SUBMIT echo job ${i}`)).slice(3));
    const seed = (await c.ask('100')).replace('Ticket ID: ', '');
    const views = new Map<string, string>();
    for (const tk of [...tickets, seed]) {
      const r = await c.ask(`WAIT ${tk} 10000`);
      t.match(r, /"state":"done"/);
      views.set(tk, r);
    }
    t.equal(await first.proc.kill('SIGKILL'), null, 'killed');

    const again = await spawnNode(t.teardown, proxy.port, nodeDir, { NODE_ID: 'keeper' });
    const c2 = await LineClient.connect(again.port, t.teardown);
    for (const [tk, view] of views)
      t.equal(await c2.ask(`RESULT ${tk}`), view, `${tk} answers as before`);
    t.match(
      await c2.ask(`r${seed}`),
      new RegExp(`^Result: Executed Job\\[${seed}\\] for 100 milliseconds`),
    );
    c2.write('getall\n');
    t.equal(await c2.next(), 'Results');
    let rows = 0;
    for (let l = await c2.next(); l; l = await c2.next()) rows++;
    t.equal(rows, 21, 'getall lists every ticket of the node');
    const o = await LineClient.connect(other.port, t.teardown);
    t.equal(
      await o.ask(`RESULT ${tickets[3]}`),
      views.get(tickets[3]!),
      'another node answers too',
    );
  },
);
