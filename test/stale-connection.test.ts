import t from 'tap';
import type { WebSocket } from 'ws';
import { newTicket } from '../shared/ids.js';
import { startProxy, until } from './helpers/cluster.js';
import { RawNode } from './helpers/fuzz.js';

/** The TCP socket under a ws connection, to stop reading from it. */
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: { pause(): void } })._socket;

/** Frames the proxy refused as invalid, by its metrics. */
async function rejectedFrames(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('petrel_proxy_rejected_frames_total '));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** A RESULT for a job nobody gave out: a handled one is counted as rejected. */
const resultOfUnknownJob = () => ({
  type: 'RESULT',
  results: [
    {
      ...{ id: newTicket(), state: 'done', exitCode: 0, output: '', error: null },
      ...{ node: 'n1', attempt: 1, startedAt: 1, finishedAt: 2 },
    },
  ],
});

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

  // what the old connection still carries (a result it had queued) belongs to the dead session;
  // a frame that is not JSON after it is refused whoever sent it: once it is, the result was read
  const invalid = await rejectedFrames(proxy.port);
  old.send(resultOfUnknownJob());
  old.send('not JSON');
  await until(async () => (await rejectedFrames(proxy.port)) > invalid, 10_000, 'the old frames');
  t.equal(proxy.scheduler.counters.rejected, rejected, 'the old connection’s result was not taken');
  fresh.send(resultOfUnknownJob());
  await until(() => proxy.scheduler.counters.rejected > rejected, 10_000, 'the fresh result');
  t.pass('the fresh connection’s result was taken (and rejected: nobody gave that job)');
  t.equal(proxy.scheduler.connectedNodes().length, 1, 'n1 is joined on its fresh connection');
});
