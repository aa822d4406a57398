import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { freePort, LineClient, Proc, tempDir, until } from './helpers/cluster.js';

const launcher = join(
  fileURLToPath(new URL('..', import.meta.url)),
  'dist',
  'scripts',
  'local-cluster.js',
);

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });

/** A first port with `count` free ports from it (the launcher's nodes take consecutive ones). */
async function freeRun(count: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    if (first + count > 65535) continue;
    let free = true;
    for (let i = 1; i < count && free; i++) free = await portFree(first + i);
    if (free) return first;
  }
}

/** `npm start`'s launcher, from a scratch directory, with `env` over fresh free ports. */
async function startLauncher(t: Test, env: Record<string, string>) {
  const ports = {
    PROXY_PORT: String(await freePort()),
    CLIENT_PORT: String(await freeRun(2)),
    HTTP_PORT: String(await freeRun(2)),
  };
  const child = spawn(process.execPath, [launcher], {
    env: { PATH: process.env.PATH ?? '', NODES: '2', DURABILITY: 'relaxed', ...ports, ...env },
    // a directory of its own: no .env is read, and a default ./data would land here
    cwd: tempDir(t.teardown),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = new Proc(child);
  t.teardown(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    for (const pid of childPids(child.pid!)) killQuietly(pid);
    child.kill('SIGKILL');
  });
  return { proc: p, clientPort: Number(ports.CLIENT_PORT) };
}

/** The launcher's processes: the proxy and the nodes. */
function childPids(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  return existsSync(file)
    ? readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    : [];
}

/** The pid of the launcher's process whose environment or command line has `word`. */
function pidWith(launcherPid: number, word: string): number | undefined {
  return childPids(launcherPid).find((pid) => {
    try {
      const words = ['environ', 'cmdline'].flatMap((f) =>
        readFileSync(`/proc/${pid}/${f}`, 'utf8').split('\0'),
      );
      return words.some((w) => w === word || w.endsWith(`/${word}`));
    } catch {
      return false; // gone meanwhile
    }
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function pong(port: number): Promise<boolean> {
  const c = await LineClient.connect(port);
  try {
    return (await c.ask('PING', 2000)) === 'OK PONG';
  } finally {
    c.socket.destroy();
  }
}

const noProcFs = existsSync('/proc/self/task') ? false : 'reads the launcher’s children in /proc';

t.test(
  'npm start: a node killed with SIGKILL is started again and its jobs get their results',
  { skip: noProcFs },
  async (t) => {
    const data = tempDir(t.teardown);
    const { proc, clientPort } = await startLauncher(t, { DATA_DIR: data });
    const [a, b] = [clientPort, clientPort + 1];
    t.teardown(() => {
      if (!t.passing()) t.comment(proc.output.slice(-60).join('\n'));
    });
    await until(
      () => proc.output.filter((l) => l.includes('joined the proxy')).length >= 2,
      60_000,
      'both nodes to join',
    );
    t.ok(existsSync(join(data, 'proxy')), 'the proxy’s data in DATA_DIR/proxy');
    t.ok(existsSync(join(data, `node-${a}`)), 'each node’s in DATA_DIR/node-<port>');
    t.ok(existsSync(join(data, `node-${b}`)));

    const line = await LineClient.connect(a);
    const tickets: string[] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await line.ask('SUBMIT sleep 1500');
      t.match(reply, /^OK \w{26}$/);
      tickets.push(reply.slice(3));
    }
    line.socket.destroy();

    const victim = await until(
      () => pidWith(proc.child.pid!, `NODE_ID=node-${a}`),
      10_000,
      'the node’s pid',
    );
    process.kill(victim, 'SIGKILL');
    await proc.waitFor(`node-${a} exited (signal SIGKILL); restarting it in 1 s`, 10_000);
    t.ok(await pong(b), 'the other node still answers');
    await until(() => pong(a).catch(() => false), 60_000, 'the killed node to answer again');
    t.not(pidWith(proc.child.pid!, `NODE_ID=node-${a}`), victim, 'a new process');
    t.equal(proc.child.exitCode, null, 'the launcher still runs');

    const again = await LineClient.connect(a, t.teardown);
    for (const ticket of tickets) {
      const reply = await again.ask(`WAIT ${ticket} 60000`, 65_000);
      t.match(reply, /^OK \{/, `${ticket} answered`);
      t.match(JSON.parse(reply.slice(3)), { ticket, state: 'done' }, 'done');
    }
    again.socket.destroy();

    // the proxy too: the nodes join it again and jobs run
    const joined = proc.output.filter((l) => l.includes('joined the proxy')).length;
    process.kill(await until(() => pidWith(proc.child.pid!, 'proxy/main.js'), 10_000), 'SIGKILL');
    await proc.waitFor('proxy exited (signal SIGKILL); restarting it in 1 s', 10_000);
    await until(
      () => proc.output.filter((l) => l.includes('joined the proxy')).length >= joined + 2,
      60_000,
      'both nodes to join the restarted proxy',
    );
    const after = await LineClient.connect(b, t.teardown);
    const ticket = (await after.ask('SUBMIT echo again')).slice(3);
    t.match(JSON.parse((await after.ask(`WAIT ${ticket} 60000`, 65_000)).slice(3)), {
      state: 'done',
      output: 'again',
    });
    after.socket.destroy();

    proc.child.kill('SIGINT');
    t.equal(await proc.exited, 0, 'Ctrl-C still stops the cluster, with 0');
    const stopAt = proc.output.findIndex((l) => l.includes('stopping the cluster'));
    t.ok(stopAt > 0, 'it said it was stopping');
    t.notOk(
      proc.output.slice(stopAt).some((l) => l.includes('restarting')),
      'nothing is restarted on Ctrl-C',
    );
  },
);

t.test('npm start: a process that cannot start stops the launcher with its message', async (t) => {
  const notADirectory = join(tempDir(t.teardown), 'file');
  writeFileSync(notADirectory, '');
  const { proc } = await startLauncher(t, { DATA_DIR: notADirectory });
  t.equal(await proc.exited, 1);
  const all = proc.output.join('\n');
  t.match(all, /ERR_DATA_DIR/, 'the process’s own message');
  t.match(all, /could not start \(exit code 1\)/);
  t.match(all, /stopping the cluster/);
  t.notMatch(all, /restarting/);
});

t.test('npm start: DATA_ROOT still names the root when DATA_DIR is not set', async (t) => {
  const data = tempDir(t.teardown);
  const { proc } = await startLauncher(t, { DATA_ROOT: data });
  await until(() => existsSync(join(data, 'proxy')), 60_000, 'the proxy’s folder');
  proc.child.kill('SIGINT');
  t.equal(await proc.exited, 0);
});

t.test('npm start: HTTP_PORT=off runs the nodes without their HTTP API, and says so', async (t) => {
  const { proc, clientPort } = await startLauncher(t, {
    DATA_DIR: tempDir(t.teardown),
    HTTP_PORT: 'off',
  });
  t.teardown(() => {
    if (!t.passing()) t.comment(proc.output.slice(-40).join('\n'));
  });
  await until(
    () => proc.output.filter((l) => l.includes('joined the proxy')).length >= 2,
    60_000,
    'both nodes to join',
  );
  t.ok(await pong(clientPort), 'the nodes take clients');
  const all = proc.output.join('\n');
  t.match(all, /HTTP API: {3}off \(HTTP_PORT=0;/, 'the summary says the HTTP API is off');
  t.notMatch(all, /curl localhost/, 'and shows no address for it');
  t.notMatch(all, /HTTP API on http/, 'no node serves it');
  proc.child.kill('SIGINT');
  t.equal(await proc.exited, 0);
});
