import t from 'tap';
import { LineClient, spawnNode, startNode, startProxy, tempDir, until } from './helpers/cluster.js';

t.test('TAIL from another node goes on at once when the node running the job dies', async (t) => {
  const proxy = await startProxy(t.teardown);
  const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
    NODE_ID: 'a',
    EXEC_ALLOW: 'sh',
  });
  const b = await startNode(t.teardown, proxy.port, { NODE_ID: 'b', EXEC_ALLOW: 'sh' });
  await until(() => proxy.scheduler.connectedNodes().length === 2, 10_000, 'nodes to join');

  const onA = await LineClient.connect(a.port, t.teardown);
  const submitted = await onA.ask('SUBMIT exec sh -c "echo begin; sleep 1; echo end"');
  t.match(submitted, /^OK [0-9A-Z]{26}$/);
  const ticket = submitted.slice(3);
  const follower = await LineClient.connect(b.clientPort, t.teardown);
  follower.write(`TAIL ${ticket}\n`);
  t.equal(await follower.next(), '> begin', 'the first run prints on a');

  const killedAt = Date.now();
  await a.proc.kill('SIGKILL');
  // the job runs again on b; its output follows without waiting out the read of a dead node
  const lines: string[] = [];
  for (let l = await follower.next(30_000); l !== null; l = await follower.next(30_000)) {
    lines.push(l);
    if (l.startsWith('OK ') || l.startsWith('ERR ')) break;
  }
  const tookMs = Date.now() - killedAt;
  t.same(lines.slice(0, -1), ['> begin', '> end'], 'the second run, from its start');
  t.match(JSON.parse((lines.at(-1) ?? '').slice(3)), { state: 'done', node: 'b', attempts: 2 });
  t.ok(tookMs < 8_000, `the follower went on at once (${tookMs} ms after the kill)`);
});
