import t from 'tap';
import { LineClient, startNode, startProxy, tempDir, until } from './helpers/cluster.js';

/** The JSON of a line `OK <json>`, or undefined for any other line. */
function okJson(line: string): Record<string, unknown> | undefined {
  return line.startsWith('OK {')
    ? (JSON.parse(line.slice(3)) as Record<string, unknown>)
    : undefined;
}

t.test('an origin back after its undelivered result expired: its client sees it', async (t) => {
  const proxy = await startProxy(t.teardown, { RESULT_TTL: '1000' });
  const runner = await startNode(t.teardown, proxy.port, { NODE_ID: 'r', NODE_LABELS: 'runner' });
  const originDir = tempDir(t.teardown);
  const originEnv = { NODE_ID: 'o', LOCAL_START: '0' };
  const origin = await startNode(t.teardown, proxy.port, originEnv, originDir);
  await until(() => proxy.scheduler.connectedNodes().length === 2, 10_000, 'both nodes');

  const c = await LineClient.connect(origin.clientPort, t.teardown);
  const spec = { type: 'sleep', args: [500], constraints: { labels: ['runner'] } };
  const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  // running on the other node, as the proxy says: so the origin holds it forwarded
  await until(
    async () => okJson(await c.ask(`RESULT ${ticket}`))?.state === 'running',
    10_000,
    'the job to run on the runner, seen from its origin',
  );
  c.close();
  await origin.close();

  await until(() => proxy.scheduler.view(ticket)?.state === 'done', 10_000, 'the result');
  await until(() => proxy.scheduler.view(ticket) === null, 20_000, 'the undelivered to expire');
  const other = await LineClient.connect(runner.clientPort, t.teardown);
  t.match(await other.ask(`RESULT ${ticket}`), /^ERR NOT_FOUND/, 'expired for every node');
  const { body } = await proxy.metrics.metrics.render();
  t.match(body, /^petrel_proxy_undelivered_expired_total 1$/m, 'counted');

  const back = await startNode(t.teardown, proxy.port, originEnv, originDir);
  const again = await LineClient.connect(back.clientPort, t.teardown);
  const seen = okJson(await again.ask(`WAIT ${ticket} 10000`, 15_000));
  t.match(seen, { ticket, state: 'failed', error: 'EXPIRED' }, 'it ends, failed, not waiting');
  t.match(await again.ask(`STATUS ${ticket}`), 'OK failed', 'and stays so');
});
