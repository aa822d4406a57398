import type { AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { seededRandom } from '../bench/workload.js';
import { LineClient, startNode, startProxy, until } from './helpers/cluster.js';

const HANDSHAKE = new Set(['CHALLENGE', 'HELLO', 'WELCOME']);

/**
 * A WebSocket relay between nodes and the proxy that loses and repeats frames (all but the
 * join handshake), as a flaky network or a reconnect racing a send would.
 */
async function lossyRelay(
  teardown: (fn: () => unknown) => void,
  proxyPort: number,
  opts: { drop: number; repeat: number; seed: number },
) {
  const rand = seededRandom(opts.seed);
  const stats = { forwarded: 0, dropped: 0, repeated: 0 };
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  teardown(() => new Promise((r) => wss.close(r)));
  wss.on('connection', (inbound) => {
    const outbound = new WebSocket(`ws://127.0.0.1:${proxyPort}/cluster`);
    const pending: string[] = [];
    const pass = (to: WebSocket, text: string) => {
      const type = (JSON.parse(text) as { type: string }).type;
      if (!HANDSHAKE.has(type)) {
        const r = rand();
        if (r < opts.drop) {
          stats.dropped++;
          return;
        }
        if (r < opts.drop + opts.repeat) {
          stats.repeated++;
          to.send(text);
        }
      }
      stats.forwarded++;
      to.send(text);
    };
    inbound.on('message', (d) => {
      if (outbound.readyState === WebSocket.OPEN) pass(outbound, d.toString());
      else pending.push(d.toString());
    });
    outbound.on('open', () => {
      for (const p of pending.splice(0)) pass(outbound, p);
    });
    outbound.on('message', (d) => pass(inbound, d.toString()));
    const closeBoth = () => {
      inbound.terminate();
      outbound.terminate();
    };
    inbound.on('close', closeBoth);
    outbound.on('close', closeBoth);
    inbound.on('error', () => {});
    outbound.on('error', () => {});
  });
  return { port: (wss.address() as AddressInfo).port, stats };
}

t.test('lost and repeated frames are repaired and harmless', async (t) => {
  const seed = Number(process.env.RELAY_SEED ?? 20261121);
  const proxy = await startProxy(t.teardown, { REQUEST_RESULT_PERIOD: '150' });
  const relay = await lossyRelay(t.teardown, proxy.port, { drop: 0.15, repeat: 0.15, seed });
  const nodes = [
    await startNode(t.teardown, relay.port, { NODE_ID: 'a' }),
    await startNode(t.teardown, relay.port, { NODE_ID: 'b' }),
  ];
  await until(() => proxy.scheduler.connectedNodes().length === 2);
  const clients = await Promise.all(nodes.map((n) => LineClient.connect(n.clientPort, t.teardown)));
  const tickets: Array<[number, string]> = [];
  for (let i = 0; i < 120; i++) {
    const which = i % 2;
    const line = i % 6 === 0 ? 'SUBMIT sleep 20' : `SUBMIT echo lossy ${i}`;
    tickets.push([which, (await clients[which]!.ask(line)).slice(3)]);
  }
  for (const entry of tickets) {
    const [which, tk] = entry;
    const mine = await clients[which]!.ask(`WAIT ${tk} 30000`);
    t.match(mine, /^OK \{.*"state":"done"/, `${tk} finished`);
    // a lost lookup costs its 3 s deadline, so only a sample is asked of the other node
    if (tickets.indexOf(entry) % 8 !== 0) continue;
    const other = clients[1 - which]!;
    // A lookup may itself be lost (the client then hears ERR UNAVAILABLE): ask again. So may
    // the origin's result on its way to the proxy, which then still sees the job running until
    // the origin sends it again: a lost frame is repaired, not undone. What the other node
    // must never give is another final result.
    const theirs = await until(
      async () => {
        const r = await other.ask(`RESULT ${tk}`);
        if (!r.startsWith('OK ')) return undefined;
        return /"state":"(queued|running)"/.test(r) ? undefined : r;
      },
      20_000,
      'the other node to give a final result',
    );
    t.equal(theirs, mine, 'both nodes give the same result');
  }
  const c = proxy.scheduler.counters;
  t.equal(c.submitted, 120, 'each job was recorded once');
  t.equal(c.done, 120, 'each result was recorded once');
  t.equal(c.duplicates, 0, 'repeated frames are not counted as second runs');
  t.ok(
    relay.stats.dropped > 20 && relay.stats.repeated > 20,
    'the relay really lost and repeated frames',
  );
  t.comment(
    `seed ${seed}: relay forwarded ${relay.stats.forwarded}, dropped ${relay.stats.dropped}, repeated ${relay.stats.repeated}`,
  );
});
