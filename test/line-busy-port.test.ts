import net from 'node:net';
import t from 'tap';
import { Proc, tempDir } from './helpers/cluster.js';

t.test('a busy CLIENT_PORT is one line naming it, no stack trace', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const p = Proc.start(
    'node',
    {
      CLIENT_HOST: '127.0.0.1',
      CLIENT_PORT: String(port),
      // nothing listens there: the node gives up on its client port before it matters
      PROXY_URL: 'ws://127.0.0.1:1/cluster',
      DATA_DIR: tempDir(t.teardown),
    },
    t.teardown,
  );
  t.not(await p.exited, 0, 'exits non-zero');
  const all = p.output.join('\n');
  t.match(all, /CLIENT_PORT/, 'names the variable');
  t.notMatch(all, / {4}at /, 'no stack trace');
  t.notMatch(all, /client server error/, 'no log line of the failed listen');
});
