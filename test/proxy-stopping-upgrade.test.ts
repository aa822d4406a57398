import net from 'node:net';
import t from 'tap';
import { startProxy, until } from './helpers/cluster.js';
import { rawExchange } from './helpers/raw-http.js';

const HANDSHAKE =
  'GET /cluster HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/**
 * A node connection at `/cluster` that never answers a close: the proxy's shutdown waits for
 * it (up to the WebSocket close timeout), which holds the proxy in its stopping state.
 */
async function silentNode(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
  socket.on('error', () => {});
  socket.write(HANDSHAKE);
  await until(() => got.startsWith('HTTP/1.1 101'), 5000, 'the WebSocket handshake');
  return socket;
}

t.test('a node connecting while the proxy stops gets a JSON 503 UNAVAILABLE', async (t) => {
  const proxy = await startProxy(t.teardown);
  const held = await silentNode(proxy.port);
  t.teardown(() => held.destroy());
  const stopped = proxy.close();
  const r = await rawExchange(proxy.port, HANDSHAKE);
  t.equal(r.status, 503, '503');
  t.match(r.headers['content-type'], /^application\/json/, 'JSON');
  t.equal(r.headers.connection, 'close', 'Connection: close');
  t.match(JSON.parse(r.body), {
    error: { code: 'UNAVAILABLE', message: /the proxy is stopping/ },
  });
  held.destroy();
  await stopped;
});
