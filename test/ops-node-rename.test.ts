import t from 'tap';
import { freePort, LineClient, startNode, tempDir } from './helpers/cluster.js';

t.test(
  'a NODE_ID other than the one a DATA_DIR holds unfinished work for is refused',
  async (t) => {
    const dir = tempDir(t.teardown);
    const nowhere = await freePort(); // no proxy: the ticket stays unfinished
    const env = { NODE_ID: 'first', LOCAL_FALLBACK: '0', LOCAL_START: '0' };
    const first = await startNode(t.teardown, nowhere, env, dir);
    const c = await LineClient.connect(first.clientPort, t.teardown);
    t.match(await c.ask('SUBMIT sleep 10'), /^OK [0-9A-Z]{26}$/);
    c.close();
    await first.close(true);
    await t.rejects(startNode(t.teardown, nowhere, { ...env, NODE_ID: 'second' }, dir), {
      code: 'ERR_DATA_DIR',
      message:
        /DATA_DIR holds node first, with 1 unfinished tickets .*start it with NODE_ID=first .*or give NODE_ID=second a DATA_DIR of its own/,
    });
    const again = await startNode(t.teardown, nowhere, env, dir);
    t.equal(again.nodeId, 'first', 'its own id still opens it');
  },
);

t.test('a DATA_DIR with nothing unfinished may be given another NODE_ID', async (t) => {
  const dir = tempDir(t.teardown);
  const nowhere = await freePort();
  const first = await startNode(t.teardown, nowhere, { NODE_ID: 'first' }, dir);
  await first.close(true);
  const renamed = await startNode(t.teardown, nowhere, { NODE_ID: 'renamed' }, dir);
  t.equal(renamed.nodeId, 'renamed');
});
