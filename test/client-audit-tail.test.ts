import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { connect, type OutputLine } from '../client/index.js';
import { startNode, startProxy, tempDir, until } from './helpers/cluster.js';

t.test('tail goes on after its node goes away: no line lost, none repeated', async (t) => {
  const proxy = await startProxy(t.teardown);
  const origin = await startNode(t.teardown, proxy.port, { NODE_ID: 'origin', EXEC_ALLOW: 'sh' });
  const runner = await startNode(t.teardown, proxy.port, {
    NODE_ID: 'runner',
    NODE_LABELS: 'runs-it',
    EXEC_ALLOW: 'sh',
  });
  await until(() => proxy.scheduler.connectedNodes().length === 2, 10_000, 'nodes to join');
  const petrel = await connect({
    addr: [`127.0.0.1:${origin.clientPort}`, `127.0.0.1:${runner.clientPort}`],
  });
  t.teardown(() => petrel.close());
  const stop = join(tempDir(t.teardown), 'stop');
  const ticket = await petrel.submit({
    type: 'exec',
    // it runs on the node that stays (its label): only the client's connection is lost
    args: ['sh', '-c', 'echo one; while [ ! -e "$STOP" ]; do sleep 0.05; done; echo two >&2'],
    env: { STOP: stop },
    constraints: { labels: ['runs-it'] },
  });
  const lines: OutputLine[] = [];
  const tailed = petrel.tail(ticket, (l) => lines.push(l));
  await until(() => lines.length === 1 || undefined, 10_000, 'the first line');
  await origin.close(true);
  writeFileSync(stop, '');
  const r = await tailed;
  t.equal(r.state, 'done');
  t.same(lines, [
    { stream: 'stdout', text: 'one' },
    { stream: 'stderr', text: 'two' },
  ]);
});
