import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { connect } from '../client/index.js';
import { freePort, LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

type Teardown = (fn: () => unknown) => void;
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');

/** A process in a group of its own, killed with everything it started at teardown. */
function spawnGroup(
  teardown: Teardown,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
) {
  const child = spawn(cmd, args, {
    detached: true,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const s of [child.stdout, child.stderr]) {
    s?.setEncoding('utf8').on('data', (d: string) => output.push(...d.split('\n').filter(Boolean)));
  }
  const kill = () => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  teardown(kill);
  return { child, output, kill };
}

async function cluster(teardown: Teardown, nodes: number) {
  const proxy = await spawnProxy(teardown, tempDir(teardown));
  const ports: number[] = [];
  for (let i = 1; i <= nodes; i++) {
    const n = await spawnNode(teardown, proxy.port, tempDir(teardown), { NODE_ID: `n${i}` });
    ports.push(n.port);
  }
  return { proxy, ports };
}

/** SUBMIT, retried while the type is not known yet (a worker registering), then the ticket. */
async function submitWhenKnown(c: LineClient, line: string): Promise<string> {
  const reply = await until(async () => {
    const r = await c.ask(line);
    return /^ERR BAD_REQUEST unknown job type/.test(r) ? undefined : r;
  });
  if (!/^OK [0-9A-Z]{26}$/.test(reply)) throw new Error(`${line} answered ${reply}`);
  return reply.slice(3);
}

async function waitView(c: LineClient, ticket: string): Promise<Record<string, unknown>> {
  const r = await c.ask(`WAIT ${ticket} 30000`, 35_000);
  if (!r.startsWith('OK ')) throw new Error(`WAIT answered ${r}`);
  return JSON.parse(r.slice(3)) as Record<string, unknown>;
}

const hasNc = spawnSync('sh', ['-c', 'command -v nc'], { encoding: 'utf8' }).status === 0;

t.test(
  'the bash + nc worker of the README serves jobs',
  { skip: !hasNc && 'needs nc: apt-get install netcat-openbsd' },
  async (t) => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const m = /<!-- tested by test\/workers-real\.test\.ts -->\s*```bash\n([\s\S]*?)```/.exec(
      readme,
    );
    t.ok(m, 'the README holds the worker');
    const script = m![1]!;
    t.ok(script.trim().split('\n').length <= 15, 'in at most 15 lines');
    const file = join(tempDir(t.teardown), 'upper-worker.sh');
    writeFileSync(file, script);
    const { ports } = await cluster(t.teardown, 2);
    const w = spawnGroup(t.teardown, 'bash', [file, '127.0.0.1', String(ports[0])]);
    const c = await LineClient.connect(ports[1]!, t.teardown);
    const tickets = [
      await submitWhenKnown(c, 'SUBMIT upper hello world'),
      await submitWhenKnown(c, 'SUBMIT {"type":"upper","args":["from", "json", 42]}'),
    ];
    t.match(await waitView(c, tickets[0]!), { state: 'done', output: 'HELLO WORLD', node: 'n1' });
    t.match(await waitView(c, tickets[1]!), { state: 'done', output: 'FROM JSON 42' });
    t.same(w.output, [], 'the worker printed no errors');
  },
);

t.test(
  'petrel worker processes: only where served, balanced, a killed one loses its job',
  async (t) => {
    const { ports } = await cluster(t.teardown, 3);
    // attempt 1 of a "hang" job never ends; any other run answers at once with who ran it
    const program = [
      'sh',
      '-c',
      'echo "run $PETREL_ATTEMPT of $1" >&2; if [ "$1" = hang ] && [ "$PETREL_ATTEMPT" = 1 ]; then sleep 600; fi; echo "$W:$1"',
      'sh',
    ];
    const workers = [2, 3].map((i) =>
      spawnGroup(
        t.teardown,
        process.execPath,
        [cli, 'worker', 'work', '--addr', `127.0.0.1:${ports[i - 1]}`, '--', ...program],
        { W: `w${i}` },
      ),
    );
    for (const w of workers) await until(() => w.output.some((l) => l.includes('serving work')));
    const c = await LineClient.connect(ports[0]!, t.teardown);
    const tickets: string[] = [];
    for (let i = 0; i < 6; i++) tickets.push(await submitWhenKnown(c, `SUBMIT work j${i}`));
    const ran = new Set<string>();
    for (const [i, ticket] of tickets.entries()) {
      const v = await waitView(c, ticket);
      t.match(v, { state: 'done' });
      const who = String(v.output).trim();
      t.match(who, new RegExp(`^w[23]:j${i}$`));
      t.equal(v.node, `n${who[1]}`, 'the output comes from the worker on the node that ran it');
      ran.add(String(v.node));
    }
    t.same([...ran].sort(), ['n2', 'n3'], 'never n1, which has no worker; both workers used');

    const hang = await submitWhenKnown(c, 'SUBMIT work hang');
    const holder = await until(() =>
      workers.find((w) => w.output.some((l) => l.includes('run 1 of hang'))),
    );
    holder.kill(); // the worker and its program, mid-job
    const v = await waitView(c, hang);
    const other = holder === workers[0] ? 'w3' : 'w2';
    t.match(
      v,
      { state: 'done', output: `${other}:hang\n`, attempts: 2 },
      'the other worker ran it',
    );
  },
);

t.test('the library worker: output, failure, cancel, reconnect after a node restart', async (t) => {
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
  const nodeDir = tempDir(t.teardown);
  const port = await freePort();
  const env = { NODE_ID: 'n1', CLIENT_PORT: String(port) };
  const first = await spawnNode(t.teardown, proxy.port, nodeDir, env);
  const petrel = await connect({ addr: `127.0.0.1:${port}` });
  t.teardown(() => petrel.close());
  const aborted: string[] = [];
  const w = await petrel.worker(
    'resize',
    async (job) => {
      if (job.args[0] === 'bad') throw new Error('cannot read bad');
      if (job.args[0] === 'forever') {
        await new Promise((resolve) => job.signal.addEventListener('abort', resolve));
        aborted.push(job.ticket);
        return 'never sent';
      }
      job.progress(50);
      return { file: job.args[0], width: Number(job.args[1]), stdin: job.stdin ?? null };
    },
    { concurrency: 2 },
  );
  t.teardown(() => w.close());
  const ok = await petrel.submit({ type: 'resize', args: ['a.png', 300], stdin: 'x' });
  t.match(await petrel.wait(ok), {
    state: 'done',
    output: '{"file":"a.png","width":300,"stdin":"x"}',
  });
  const bad = await petrel.submit('resize', 'bad');
  t.match(await petrel.wait(bad), { state: 'failed', error: 'cannot read bad' });
  const forever = await petrel.submit('resize', 'forever');
  await until(() => w.active === 1, 10_000, 'the job to reach the handler');
  await petrel.cancel(forever);
  await until(() => aborted.includes(forever), 10_000, 'the handler to see the cancel');
  t.match(await petrel.wait(forever), { state: 'cancelled' });

  // the node dies and comes back on the same port: the worker registers again by itself
  await first.proc.kill('SIGKILL');
  await spawnNode(t.teardown, proxy.port, nodeDir, env);
  const after = await petrel.submit('resize', 'b.png', 64);
  t.match(await petrel.wait(after, { timeoutMs: 30_000 }), {
    state: 'done',
    output: '{"file":"b.png","width":64,"stdin":null}',
  });
  t.ok(w.handled >= 4, 'the same worker object served them all');
});
