import t from 'tap';
import { connect, WireError } from '../client/index.js';
import { lineServer as server } from './helpers/line-server.js';
import { petrel } from './helpers/petrel-cli.js';

const pong = (line: string) => (line === 'PING' ? 'OK PONG' : undefined);

t.test('connect() to something that never answers rejects with UNAVAILABLE', async (t) => {
  const port = await server(t.teardown);
  const started = Date.now();
  const err = await connect({ addr: `127.0.0.1:${port}`, connectTimeoutMs: 300 }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof WireError, 'a WireError');
  t.match(err, { code: 'UNAVAILABLE', message: /no node answers at 127\.0\.0\.1:\d+ \(no answer/ });
  t.ok(Date.now() - started < 5000, 'within the connect timeout, not for ever');
});

t.test('a silent address is passed over for the next one', async (t) => {
  const silent = await server(t.teardown);
  const node = await server(t.teardown, pong);
  const c = await connect({
    addr: [`127.0.0.1:${silent}`, `127.0.0.1:${node}`],
    connectTimeoutMs: 300,
  });
  t.teardown(() => c.close());
  await c.ping();
  t.pass('connected to the node that answers');
});

t.test('a worker whose node never answers WORKER is refused, not left waiting', async (t) => {
  const port = await server(t.teardown, pong);
  const c = await connect({ addr: `127.0.0.1:${port}`, connectTimeoutMs: 300 });
  t.teardown(() => c.close());
  const err = await c
    .worker('upper', () => 'x')
    .then(
      (w) => w.close().then(() => null),
      (e: unknown) => e,
    );
  t.match(err, { code: 'UNAVAILABLE', message: /no answer within 300 ms/ });
});

t.test('petrel with an address that never answers: exit 69 and one line', async (t) => {
  const port = await server(t.teardown);
  const started = Date.now();
  const r = await petrel(['ls', '--addr', `127.0.0.1:${port}`]);
  t.equal(r.code, 69, r.stderr);
  t.match(r.stderr, `petrel: no node answers at 127.0.0.1:${port} (no answer to PING within`);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.ok(Date.now() - started < 20_000, 'gave up instead of hanging');
});
