import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir } from './helpers/cluster.js';

/**
 * A run started at its origin sends its result to the proxy the moment it ends, while the
 * origin commits it: killed between the two, the origin restarts with the ticket still waiting
 * for a result the proxy holds as delivered. The node's file is left here as such a kill left
 * one in a chaos run (the ticket forwarded, no result), since the kill itself cannot be timed.
 */
t.test('an origin that lost its own commit of a result gets it back from the proxy', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const dir = tempDir(t.teardown);
  const a = await spawnNode(t.teardown, proxy.port, dir, { NODE_ID: 'a' });
  const ca = await LineClient.connect(a.port, t.teardown);
  const warm = (await ca.ask('SUBMIT echo warm')).replace(/^OK /, '');
  t.match(await ca.ask(`WAIT ${warm} 10000`), /"state":"done"/, 'the node has joined');
  const ticket = (await ca.ask('SUBMIT sleep 50')).replace(/^OK /, '');
  const first = await ca.ask(`WAIT ${ticket} 10000`);
  t.match(first, /"state":"done","exitCode":0,"output":"","node":"a"/, 'run on its origin');
  ca.close();
  await a.proc.kill('SIGKILL');

  const db = new Database(join(dir, 'node.db'));
  const row = db
    .prepare(
      "UPDATE tickets SET state = 'forwarded', result = NULL, finished_at = NULL WHERE id = ?",
    )
    .run(ticket);
  db.close();
  t.equal(row.changes, 1, 'the ticket is back to waiting for its result');

  const again = await spawnNode(t.teardown, proxy.port, dir, { NODE_ID: 'a' });
  const c = await LineClient.connect(again.port, t.teardown);
  t.equal(await c.ask(`WAIT ${ticket} 10000`), first, 'the same result, from the proxy');
});
