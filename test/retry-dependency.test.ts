import t from 'tap';
import { LineClient, startCluster } from './helpers/cluster.js';

async function ticketOf(c: LineClient, line: string): Promise<string> {
  const r = await c.ask(line, 20_000);
  if (!r.startsWith('OK ')) throw new Error(`${line} -> ${r}`);
  return r.slice(3);
}

t.test('RETRY of a job whose dependency failed names it; after its RETRY, it runs', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const a = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const b = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
  const first = await ticketOf(a, 'SUBMIT sleep 5000');
  const then = await ticketOf(b, `SUBMIT {"type":"echo","args":["then"],"after":["${first}"]}`);
  t.equal(await a.ask(`CANCEL ${first}`), 'OK cancelled');
  t.match(await b.ask(`WAIT ${then} 10000`), /"state":"cancelled".*DEPENDENCY_FAILED/);

  // it would only be cancelled again at once: refused, saying what to do
  t.equal(
    await b.ask(`RETRY ${then}`),
    `ERR BAD_REQUEST ${then} waits for ${first}, which is cancelled: RETRY ${first} first`,
  );
  t.match(await a.ask(`RESULT ${then}`), /"state":"cancelled"/, 'nothing changed');

  t.equal(await a.ask(`RETRY ${first}`), 'OK queued');
  t.equal(await b.ask(`RETRY ${then}`), 'OK queued');
  t.equal(await b.ask(`STATUS ${then}`), 'OK blocked', 'it waits for its dependency again');
  t.equal(await a.ask(`CANCEL ${first}`), 'OK cancelled');
  t.match(await b.ask(`WAIT ${then} 10000`), /"state":"cancelled"/);
  t.equal(await a.ask(`RETRY ${first}`), 'OK queued');
  t.equal(await b.ask(`RETRY ${then}`), 'OK queued');
  t.match(await b.ask(`WAIT ${then} 20000`, 25_000), /"state":"done","exitCode":0,"output":"then"/);
});
