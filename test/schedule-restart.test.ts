import t from 'tap';
import {
  explainOnFailure,
  LineClient,
  spawnNode,
  spawnProxy,
  tempDir,
  until,
} from './helpers/cluster.js';

/**
 * A due time passes while the proxy is down: the restarted proxy fires it once, late, and
 * moves on to the next due time; after CANCEL the next due time passes without a firing.
 * Minute-granular: up to ~130 s.
 */

const json = (line: string) => JSON.parse(line.replace(/^OK /, '')) as Record<string, unknown>;

interface Fired {
  run: string;
  due: string;
  late: number;
  time: number;
}

function firings(output: string[]): Fired[] {
  return output.filter((l) => l.includes('schedule fired')).map((l) => JSON.parse(l) as Fired);
}

t.test('killing the proxy across a due time yields exactly one late firing', async (t) => {
  const dataDir = tempDir(t.teardown);
  let proxy = await spawnProxy(t.teardown, dataDir);
  const node = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'a' });
  explainOnFailure(t, () => [
    { name: 'proxy', proc: proxy.proc },
    { name: 'node', proc: node.proc },
  ]);
  const c = await LineClient.connect(node.port, t.teardown);
  const schedule = (await c.ask('SUBMIT {"type":"echo","args":["late"],"cron":"* * * * *"}')).slice(
    3,
  );
  const view = json(
    await until(async () => {
      const r = await c.ask(`RESULT ${schedule}`);
      return r.startsWith('OK ') && json(r).state === 'scheduled' ? r : null;
    }),
  );
  const missed = Date.parse(view.next as string);
  // the proxy dies before the due time and comes back after it
  if (missed - Date.now() < 2000) t.comment('due time close: the kill may follow a firing');
  await proxy.proc.kill('SIGKILL');
  t.comment(`proxy killed at ${new Date().toISOString()}, due ${new Date(missed).toISOString()}`);
  await until(() => Date.now() > missed + 2000, 75_000, 'the due time to pass');
  const restartedAt = Date.now();
  proxy = await spawnProxy(t.teardown, dataDir, {}, proxy.port);
  t.comment(`proxy back at ${new Date(restartedAt).toISOString()}`);

  const after = json(
    await until(
      async () => {
        const r = await c.ask(`RESULT ${schedule}`);
        if (!r.startsWith('OK ')) throw new Error(r);
        const runs = json(r).runs;
        if (!Array.isArray(runs)) throw new Error(`a schedule's view without runs: ${r}`);
        if (runs.length === 0) throw new Error(`no run yet: ${r}`);
        return r;
      },
      30_000,
      'the late firing',
    ),
  );
  const fired = firings(proxy.proc.output);
  t.equal(fired.length, 1, 'one firing for the missed due time');
  t.equal(fired[0]?.due, new Date(missed).toISOString(), 'for the due time that was missed');
  t.ok((fired[0]?.late ?? 0) > 0, `late by ${fired[0]?.late} ms`);
  t.comment(`late firing at ${new Date(fired[0]?.time ?? 0).toISOString()}`);
  const next = Date.parse(after.next as string);
  t.ok(next > restartedAt && next % 60_000 === 0, 'the next due time is after the restart');
  const run = (after.runs as Array<{ ticket: string }>)[0]?.ticket as string;
  t.match(json(await c.ask(`WAIT ${run} 10000`)), { state: 'done', output: 'late' });

  t.equal(await c.ask(`CANCEL ${schedule}`), 'OK cancelled');
  await until(() => Date.now() > next + 2000, 75_000, 'the next due time to pass');
  t.equal(firings(proxy.proc.output).length, 1, 'nothing fired after CANCEL');
  t.equal((json(await c.ask(`RESULT ${schedule}`)).runs as unknown[]).length, 1);
});
