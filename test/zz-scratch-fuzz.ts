import t from 'tap';
import WebSocket from 'ws';
import { startProxy, until } from './helpers/cluster.js';
t.test('crash', async (t) => {
  const proxy = await startProxy(t.teardown);
  const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/cluster`);
  let closed = false;
  ws.on('message', () => ws.send(JSON.stringify({ type: 'ACK', ['😀'.repeat(80)]: 1 })));
  ws.on('close', () => (closed = true));
  await until(() => closed, 3000).catch((e) => t.comment(String(e)));
  ws.terminate();
  t.pass('after');
});
t.test('second', async (t) => { t.pass('ran'); });
