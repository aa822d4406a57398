import type { AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { LineClient, startNode, startProxy, until } from './helpers/cluster.js';

/**
 * A relay between nodes and the proxy that can be partitioned: while it is, every frame and
 * ping is silently dropped in both directions (no close, no reset), as a network split does.
 */
async function partitionRelay(teardown: (fn: () => unknown) => void, proxyPort: number) {
  const state = { partitioned: false, dropped: 0 };
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
  await new Promise((r) => wss.once('listening', r));
  teardown(() => new Promise((r) => wss.close(r)));
  wss.on('connection', (inbound) => {
    const outbound = new WebSocket(`ws://127.0.0.1:${proxyPort}/cluster`, { autoPong: false });
    const pending: string[] = [];
    const pass = (to: WebSocket, text: string) => {
      if (state.partitioned) state.dropped++;
      else to.send(text);
    };
    inbound.on('message', (d) => {
      if (outbound.readyState === WebSocket.OPEN) pass(outbound, d.toString());
      else pending.push(d.toString());
    });
    outbound.on('open', () => {
      for (const p of pending.splice(0)) pass(outbound, p);
    });
    outbound.on('message', (d) => pass(inbound, d.toString()));
    inbound.on('ping', () => {
      if (!state.partitioned && outbound.readyState === WebSocket.OPEN) outbound.ping();
    });
    outbound.on('pong', () => {
      if (!state.partitioned) inbound.pong();
    });
    const closeBoth = () => {
      inbound.terminate();
      outbound.terminate();
    };
    inbound.on('close', closeBoth);
    outbound.on('close', closeBoth);
    inbound.on('error', () => {});
    outbound.on('error', () => {});
  });
  return { port: (wss.address() as AddressInfo).port, state };
}

t.test('a partition for seconds, then healed: nothing lost, results exactly once', async (t) => {
  const proxy = await startProxy(t.teardown, { REQUEST_RESULT_PERIOD: '200' });
  const relay = await partitionRelay(t.teardown, proxy.port);
  const cut = await startNode(t.teardown, relay.port, { NODE_ID: 'cut' });
  const direct = await startNode(t.teardown, proxy.port, { NODE_ID: 'direct' });
  await until(() => proxy.scheduler.connectedNodes().length === 2);
  const cc = await LineClient.connect(cut.clientPort, t.teardown);
  const cd = await LineClient.connect(direct.clientPort, t.teardown);
  const tickets: Array<[LineClient, string]> = [];
  for (let i = 0; i < 40; i++) {
    const c = i % 2 === 0 ? cc : cd;
    tickets.push([c, (await c.ask(`SUBMIT sleep ${100 + (i % 4) * 100}`)).slice(3)]);
  }
  relay.state.partitioned = true;
  const cutAt = Date.now();
  // both sides go on working: the cut node issues tickets the proxy cannot hear of yet
  for (let i = 0; i < 10; i++) {
    tickets.push([cc, (await cc.ask(`SUBMIT echo during ${i}`)).slice(3)]);
    tickets.push([cd, (await cd.ask(`SUBMIT echo during ${i}`)).slice(3)]);
  }
  await until(
    () => !proxy.scheduler.connectedNodes().some((n) => n.id === 'cut'),
    20_000,
    'the proxy to declare the cut node dead',
  );
  t.comment(`partition: the cut node declared dead ${Date.now() - cutAt} ms after the cut`);
  await until(() => relay.state.dropped > 0 && Date.now() - cutAt > 3000, 20_000, 'three seconds');
  relay.state.partitioned = false;
  const healedAt = Date.now();
  await until(
    () => proxy.scheduler.connectedNodes().length === 2,
    30_000,
    'the cut node to rejoin',
  );
  t.comment(`partition: rejoined ${Date.now() - healedAt} ms after healing`);
  let done = 0;
  for (const [c, tk] of tickets) {
    if ((await c.ask(`WAIT ${tk} 30000`)).includes('"state":"done"')) done++;
  }
  t.equal(done, tickets.length, `all ${tickets.length} tickets finished`);
  const counters = proxy.scheduler.counters;
  t.equal(counters.submitted, tickets.length, 'each job recorded once');
  t.equal(counters.done, tickets.length, 'each result recorded once');
  t.comment(
    `partition: ${relay.state.dropped} frames dropped; duplicate runs counted: ${counters.duplicates}`,
  );
});
