import t from 'tap';
import type { WebSocket } from 'ws';
import { newTicket } from '../shared/ids.js';
import { startProxy, until } from './helpers/cluster.js';
import { RawNode } from './helpers/fuzz.js';

/** The TCP socket under a ws connection, to stop reading from it. */
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: { pause(): void } })._socket;

t.test('frames from a connection the node has replaced are not taken as the node’s', async (t) => {
  const proxy = await startProxy(t.teardown, { NODE_TIMEOUT: '600', PHI_THRESHOLD: '0' });
  const url = `ws://127.0.0.1:${proxy.port}/cluster`;
  const old = await RawNode.connect(url);
  t.teardown(() => old.terminate());
  await old.nonce();
  old.hello('n1');
  await old.frame('WELCOME');
  // the node freezes: it reads nothing more (not the proxy's close), and is declared dead
  socketOf(old.ws).pause();
  await until(() => proxy.scheduler.connectedNodes().length === 0, 10_000, 'n1 declared dead');

  // it comes back on a new connection while the old one is still closing
  const fresh = await RawNode.connect(url);
  t.teardown(() => fresh.terminate());
  await fresh.nonce();
  fresh.hello('n1');
  await fresh.frame('WELCOME');
  const rejected = proxy.scheduler.counters.rejected;

  // what the old connection still carries (a result it had queued) belongs to the dead session
  old.send({
    type: 'RESULT',
    results: [
      {
        id: newTicket(),
        state: 'done',
        exitCode: 0,
        output: '',
        error: null,
        node: 'n1',
        attempt: 1,
        startedAt: 1,
        finishedAt: 2,
      },
    ],
  });
  // the fresh connection's own frame after it: once it is handled, so was the old one's
  fresh.send({
    type: 'RESULT',
    results: [
      {
        id: newTicket(),
        state: 'done',
        exitCode: 0,
        output: '',
        error: null,
        node: 'n1',
        attempt: 1,
        startedAt: 1,
        finishedAt: 2,
      },
    ],
  });
  await until(() => proxy.scheduler.counters.rejected > rejected, 10_000, 'the fresh result');
  t.equal(
    proxy.scheduler.counters.rejected,
    rejected + 1,
    'only the fresh connection’s frame was handled',
  );
  t.equal(proxy.scheduler.connectedNodes().length, 1, 'n1 is joined on its fresh connection');
});
