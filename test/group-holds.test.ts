import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { LineClient, tempDir, until } from './helpers/cluster.js';
import {
  etcd,
  leaderOf,
  NO_ETCD,
  startGroup,
  startGroupNodes,
  type GroupProxy,
} from './helpers/group.js';

/**
 * What nodes hold when the leader dies is kept by the next one: the tasks of a job running on
 * nodes at a takeover finish where they run, each once.
 */

const json = (line: string) => JSON.parse(line.replace(/^OK /, '')) as Record<string, unknown>;

if (!etcd) {
  t.comment(`skipped: ${NO_ETCD}`);
  t.pass('skipped: etcd is absent');
} else {
  t.test('jobs and tasks running on nodes at a takeover are not run again', async (t) => {
    const g = await startGroup(t.teardown, 2);
    const urls = g.proxies.map((p) => p.url).join(',');
    const nodes = await startGroupNodes(t.teardown, urls, 2, 1, { EXEC_ALLOW: 'sh', SLOTS: '3' });
    const a = await leaderOf(g.proxies, 2);
    const dir = tempDir(t.teardown);
    const gate = join(dir, 'gate');
    // each task notes its start, then waits for the gate: they are all running at the kill
    const tasks = [0, 1, 2, 3].map((i) => ({
      type: 'exec',
      args: [
        'sh',
        '-c',
        `echo run >> ${dir}/task-${i}; while [ ! -e ${gate} ]; do sleep 0.05; done`,
      ],
    }));
    const c = await LineClient.connect(nodes[0]!.port, t.teardown);
    const submitted = await c.ask(`SUBMIT ${JSON.stringify({ tasks })}`);
    t.match(submitted, /^OK [0-9A-Z]{26}$/);
    const job = submitted.slice(3);
    const d = await LineClient.connect(nodes[1]!.port, t.teardown);
    const single = {
      type: 'exec',
      args: ['sh', '-c', tasks[0]!.args[2]!.replace('task-0', 'single')],
    };
    const plain = (await d.ask(`SUBMIT ${JSON.stringify(single)}`)).slice(3);
    await until(async () => {
      const p = json(await c.ask(`RESULT ${job}`)).progress as { running?: number } | undefined;
      return p?.running === 4 && json(await d.ask(`RESULT ${plain}`)).state === 'running';
    });
    await a.proc.kill('SIGKILL');
    const b = g.proxies.find((p) => p !== a) as GroupProxy;
    await leaderOf([b], 2);
    writeFileSync(gate, '');
    t.match(json(await c.ask(`WAIT ${job} 60000`, 65_000)), {
      state: 'done',
      progress: { total: 4, done: 4 },
    });
    t.match(json(await d.ask(`WAIT ${plain} 60000`, 65_000)), { state: 'done' });
    for (const name of ['task-0', 'task-1', 'task-2', 'task-3', 'single']) {
      const file = join(dir, name);
      t.ok(existsSync(file));
      t.equal(readFileSync(file, 'utf8'), 'run\n', `${name} ran once`);
    }
  });
}
