import { createServer } from 'node:http';
import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';
import { petrel, spawnPetrel, type CliRun } from './helpers/petrel-cli.js';

const TICKET = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Runs `petrel` with the read end of its stdout closed at once, as `| head -0` would. */
function withStdoutClosed(args: string[], env: Record<string, string>): Promise<CliRun> {
  const { child, done } = spawnPetrel(args, { env });
  child.stdout!.destroy();
  return done;
}

t.test('a closed stdout ends the command quietly: exit 141, no stack trace', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'sh,seq' } });
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  const sub = await petrel(['submit', 'exec', '--', 'seq', '1', '20000'], { env });
  t.equal(sub.code, 0, sub.stderr);
  const ticket = sub.stdout.trim();
  t.match(ticket, TICKET);
  t.equal((await petrel(['wait', ticket], { env })).code, 0);
  for (let i = 0; i < 3; i++) await petrel(['submit', 'echo', String(i)], { env });

  for (const args of [['ls'], ['logs', ticket], ['result', ticket], ['status', ticket]]) {
    const r = await withStdoutClosed(args, env);
    t.equal(r.code, 141, `petrel ${args[0]}: the status of a program killed by SIGPIPE`);
    t.equal(r.stderr, '', `petrel ${args[0]}: nothing on stderr`);
  }

  // `petrel run`: the job is cancelled, as its program would have died of SIGPIPE here
  const line = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const loop = 'while :; do echo y; sleep 0.05; done';
  const run = await withStdoutClosed(['run', '--no-cwd', '--', 'sh', '-c', loop], env);
  t.equal(run.code, 141, 'petrel run: 141');
  t.equal(run.stderr, '', 'petrel run: nothing on stderr');
  await until(
    async () => {
      const list = await line.ask('LIST cancelled');
      const rows: string[] = [];
      for (let i = 0; i < Number(list.slice(3)); i++) rows.push((await line.next()) ?? '');
      return rows.length === 1;
    },
    20_000,
    'the run job to be cancelled',
  );
  t.equal(await line.ask('LIST running'), 'OK 0', 'nothing left running');
});

t.test('a malformed --addr is bad usage (64), naming the option', async (t) => {
  const flag = await petrel(['status', '--addr', 'localhost:99999', '0'.repeat(26)]);
  t.equal(flag.code, 64);
  t.match(flag.stderr, /--addr/);
  t.match(flag.stderr, /not a port/);
  t.notMatch(flag.stderr, /start a cluster/);
  const fromEnv = await petrel(['ls'], { env: { PETREL_ADDR: 'host:1:2:x' } });
  t.equal(fromEnv.code, 64);
  t.match(fromEnv.stderr, /PETREL_ADDR/);
});

t.test('an HTTP port given as --addr says so', async (t) => {
  const server = createServer((_req, res) => res.end('hello'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  const r = await petrel(['status', '--addr', `127.0.0.1:${port}`, '0'.repeat(26)]);
  t.equal(r.code, 69);
  t.match(r.stderr, /HTTP port/);
  t.match(r.stderr, /CLIENT_PORT/);
});

t.test('a missing token points at --token and PETREL_TOKEN, not at the AUTH verb', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { CLIENT_TOKEN: 'pw' } });
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  for (const args of [['status', '0'.repeat(26)], ['ls']]) {
    const r = await petrel(args, { env });
    t.equal(r.code, 77, `petrel ${args[0]}`);
    t.match(r.stderr, /--token or PETREL_TOKEN/, `petrel ${args[0]}`);
    t.notMatch(r.stderr, /AUTH/, `petrel ${args[0]}`);
  }
});

t.test(
  'petrel run: a cwd the node cannot use means the program could not start (127)',
  async (t) => {
    const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'true' } });
    const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
    const r = await petrel(['run', '--cwd', '/nonexistent', '--', 'true'], { env });
    t.equal(r.code, 127);
    t.match(r.stderr, /cwd \/nonexistent does not exist/);
  },
);

t.test('petrel --help names the options every command takes', async (t) => {
  const r = await petrel(['--help']);
  t.equal(r.code, 0);
  for (const word of ['--addr', 'PETREL_ADDR', '--token', 'PETREL_TOKEN', '--json']) {
    t.match(r.stdout, word);
  }
  // they may come before the command's name too
  const before = await petrel(['--addr', '127.0.0.1:1', 'ls']);
  t.equal(before.code, 69, 'no node answers there');
  t.match(before.stderr, /no node answers at 127\.0\.0\.1:1/);
});
