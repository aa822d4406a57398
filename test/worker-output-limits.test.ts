import t from 'tap';
import { LineClient, startCluster } from './helpers/cluster.js';

/** A worker connection: WORKER, then the JOB lines as they come. */
async function worker(port: number, type: string, teardown: (fn: () => unknown) => void) {
  const c = await LineClient.connect(port, teardown);
  const ok = await c.ask(`WORKER ${type}`);
  if (ok !== 'OK worker') throw new Error(`WORKER answered ${ok}`);
  return c;
}

async function nextTicket(w: LineClient): Promise<string> {
  const line = (await w.next()) ?? '';
  const m = /^JOB ([0-9A-Z]{26}) /.exec(line);
  if (!m) throw new Error(`expected a JOB line, got ${line}`);
  return m[1] as string;
}

t.test(
  "a worker's output past JOB_OUTPUT_LIMIT: head and tail in the result, with a note; all of it in LOGS",
  async (t) => {
    const { nodes } = await startCluster(t.teardown, 2, { nodeEnv: { JOB_OUTPUT_LIMIT: '1000' } });
    const w = await worker(nodes[0]!.clientPort, 'lines', t.teardown);
    const client = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i + 1}`);
    const submitted = await client.ask('SUBMIT lines');
    const ticket = submitted.slice(3);
    t.equal(await nextTicket(w), ticket);
    w.write(`DONE ${ticket} ${JSON.stringify(lines.join('\n'))}\n`);

    const reply = await client.ask(`WAIT ${ticket} 20000`, 25_000);
    const view = JSON.parse(reply.slice(3)) as { state: string; output: string; error?: string };
    t.equal(view.state, 'done');
    t.ok(view.output.startsWith('line 1\nline 2\n'), 'the head is kept');
    t.ok(view.output.endsWith('line 499\nline 500'), 'the tail is kept');
    t.match(
      view.output,
      /\[\.\.\. \d+ bytes dropped \.\.\.\]/,
      'a marker where bytes were dropped',
    );
    t.match(
      view.error,
      /^output clipped to JOB_OUTPUT_LIMIT \(1000 bytes\): \d+ bytes dropped from the middle/,
    );

    t.equal(await client.ask(`LOGS ${ticket}`), `OK ${lines.length}`, 'LOGS has every line');
    const got: string[] = [];
    for (let i = 0; i < lines.length; i++) got.push((await client.next()) ?? '');
    t.same(got, lines);
  },
);
