import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freePort, LineClient, startCluster, tempDir, until } from './helpers/cluster.js';
import { petrel, spawnPetrel } from './helpers/petrel-cli.js';

const TICKET = /^[0-9A-HJKMNP-TV-Z]{26}$/;

t.test('no node answering: one clear line, exit 69, no stack trace', async (t) => {
  const port = await freePort();
  const r = await petrel(['status', '0'.repeat(26)], { env: { PETREL_ADDR: `127.0.0.1:${port}` } });
  t.equal(r.code, 69);
  t.equal(r.stdout, '');
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  t.match(r.stderr, `petrel: no node answers at 127.0.0.1:${port} (ECONNREFUSED)`);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const j = await petrel(['ls', '--json', '--addr', `127.0.0.1:${port}`]);
  t.same(JSON.parse(j.stderr), {
    error: { code: 'UNAVAILABLE', message: `no node answers at 127.0.0.1:${port} (ECONNREFUSED)` },
  });
  const usage = await petrel(['wait', '--timeout', 'soon', '0'.repeat(26)]);
  t.equal(usage.code, 64, 'a usage error is 64');
});

t.test('submit, wait, status, result, cancel, ls, top: text and --json', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2);
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };

  const sub = await petrel(['submit', 'echo', 'hello', 'cli'], { env });
  t.equal(sub.code, 0, sub.stderr);
  const ticket = sub.stdout.trim();
  t.match(ticket, TICKET);

  const waited = await petrel(['wait', ticket], { env });
  t.equal(waited.code, 0);
  t.match(waited.stdout, new RegExp(`^${ticket}  done  `));
  const asJson = await petrel(['wait', ticket, '--json'], { env });
  t.match(JSON.parse(asJson.stdout), { ticket, state: 'done', output: 'hello cli' });

  t.equal((await petrel(['status', ticket], { env })).stdout, 'done\n');
  const result = await petrel(['result', ticket], { env });
  t.match(result.stdout, /done.*\nhello cli\n$/);

  const spec = JSON.stringify({ type: 'sleep', args: [60000], priority: 5 });
  // --json '{...}' gives the spec: the bare ticket, as t=$(petrel submit --json '{...}') wants
  const slow = { ticket: (await petrel(['submit', '--json', spec], { env })).stdout.trim() };
  t.match(slow.ticket, TICKET, '--json {spec} answers the bare ticket');
  const cancelled = await petrel(['cancel', slow.ticket, '--json'], { env });
  t.same(JSON.parse(cancelled.stdout), { ticket: slow.ticket, state: 'cancelled' });
  const failedWait = await petrel(['wait', slow.ticket, ticket], { env });
  t.equal(failedWait.code, 1, 'wait exits 1 when a job did not succeed');
  t.equal(failedWait.stdout.trim().split('\n').length, 2, 'one line per ticket');

  const ls = await petrel(['ls', '--json'], { env });
  t.same(
    (JSON.parse(ls.stdout) as Array<{ ticket: string }>).map((j) => j.ticket),
    [slow.ticket, ticket],
  );
  const lsDone = await petrel(['ls', '--state', 'done'], { env });
  t.equal(lsDone.stdout, `${ticket}  done\n`);
  const long = (await petrel(['ls', '-l'], { env })).stdout.split('\n');
  t.match(long[0], /^TICKET +STATE +EXIT +NODE +SUBMITTED +RAN +RUNS +ERROR$/, 'ls -l: a header');
  t.match(long[1], new RegExp(`^${slow.ticket}  cancelled +- +`), 'then the newest job');
  t.match(
    long[2],
    new RegExp(`^${ticket}  done +0 +n1 +\\d{4}-.*Z +\\d+ ms +1$`),
    'exit, node, time',
  );
  const longJson = JSON.parse((await petrel(['ls', '-l', '--json'], { env })).stdout) as unknown[];
  t.match(longJson, [
    { ticket: slow.ticket, state: 'cancelled' },
    { ticket, output: 'hello cli' },
  ]);

  // --after takes one value (a comma list) per flag, so the type and its args stay the job's
  const later = await petrel(['submit', '--after', ticket, 'echo', 'after', 'it'], { env });
  t.equal(later.code, 0, later.stderr);
  t.match(
    JSON.parse((await petrel(['wait', later.stdout.trim(), '--json'], { env })).stdout),
    { state: 'done', output: 'after it' },
    'the job after a finished one runs with its own type and args',
  );
  const running = (await petrel(['submit', 'sleep', '60000'], { env })).stdout.trim();
  const both = await petrel(
    ['submit', '--after', `${ticket},${running}`, '--after', ticket, 'echo', 'x'],
    { env },
  );
  t.equal(both.code, 0, both.stderr);
  await until(
    async () =>
      (await petrel(['status', both.stdout.trim()], { env })).stdout === 'blocked\n' || undefined,
    10_000,
    'the job to wait for every ticket named',
  );
  await petrel(['cancel', running, both.stdout.trim()], { env });

  const missing = await petrel(['status', '0'.repeat(26)], { env });
  t.equal(missing.code, 66, 'an unknown ticket is 66');
  t.match(missing.stderr, /no such ticket/);
  const bad = await petrel(['submit', 'sleep', 'soon'], { env });
  t.equal(bad.code, 64, 'a refused spec is 64');
  t.match(bad.stderr, /^petrel: args: /);

  const timedOut = await petrel(
    [
      'wait',
      '--timeout',
      '50',
      (await petrel(['submit', 'sleep', '60000'], { env })).stdout.trim(),
    ],
    { env },
  );
  t.equal(timedOut.code, 75, 'wait --timeout that runs out is 75');

  const top = await petrel(['top', '--once'], { env });
  t.equal(top.code, 0);
  t.match(top.stdout, /NODE\s+UP\s+SLOTS/);
  t.match(top.stdout, /\nn1\s+yes\s+2/);
});

t.test('petrel run: output, exit code, Ctrl-C cancels', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  const r = await petrel(['run', '--no-cwd', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7'], {
    env,
  });
  t.equal(r.code, 7, "the job's exit code");
  t.equal(r.stdout, 'out\n', "the job's stdout, and only that, on stdout");
  t.match(r.stderr, /^err\n/, "the job's stderr on stderr");
  const ok = await petrel(['run', '--no-cwd', '--json', '--', 'sh', '-c', 'echo fine'], { env });
  t.equal(ok.code, 0);
  t.match(JSON.parse(ok.stdout), { state: 'done', exitCode: 0 });
  const refused = await petrel(['run', '--no-cwd', '--', 'rm', '-rf', '/tmp/x'], { env });
  t.equal(refused.code, 77, 'a program outside EXEC_ALLOW is refused before it gets a ticket');
  t.match(refused.stderr, /EXEC_ALLOW/);

  const line = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const { child, done } = spawnPetrel(['run', '--no-cwd', '--', 'sh', '-c', 'sleep 60'], { env });
  const before = await line.ask('LIST');
  for (let i = 0; i < Number(before.slice(3)); i++) await line.next();
  // the newest ticket of this node is the run's; wait until it is running
  const ticket = await until(async () => {
    const list = await line.ask('LIST');
    const rows: string[] = [];
    for (let i = 0; i < Number(list.slice(3)); i++) rows.push((await line.next()) ?? '');
    if (list === before) return undefined;
    const newest = rows[0]!.split(' ')[0]!;
    return (await line.ask(`STATUS ${newest}`)) === 'OK running' ? newest : undefined;
  });
  child.kill('SIGINT');
  const stopped = await done;
  t.equal(stopped.code, 130, 'Ctrl-C: exit 130');
  t.match(stopped.stderr, /cancelling/);
  t.equal(await line.ask(`STATUS ${ticket}`), 'OK cancelled', 'the job was cancelled');
  t.match(JSON.parse((await line.ask(`RESULT ${ticket}`)).slice(3)), { state: 'cancelled' });
});

t.test('a token from the environment', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { CLIENT_TOKEN: 'pw' } });
  const addr = `127.0.0.1:${nodes[0]!.clientPort}`;
  const denied = await petrel(['ls', '--addr', addr]);
  t.equal(denied.code, 77);
  t.match(denied.stderr, /PETREL_TOKEN/);
  const ok = await petrel(['ls', '--addr', addr], { env: { PETREL_TOKEN: 'pw' } });
  t.equal(ok.code, 0);
});

const script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const noScript = script ? false : 'needs script(1) for a terminal: apt-get install bsdutils';

t.test('wait draws a progress bar on a terminal', { skip: noScript }, async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  const tickets = await Promise.all(
    ['300', '600'].map(async (ms) =>
      (await petrel(['submit', 'sleep', ms], { env })).stdout.trim(),
    ),
  );
  const bin = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  const command = [process.execPath, bin, 'wait', ...tickets].join(' ');
  const r = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(script as string, ['-qefc', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.once('close', (code) => resolve({ code, text }));
  });
  t.equal(r.code, 0);
  t.match(r.text, /2\/2 jobs/, 'the bar counts finished jobs');
  t.match(r.text, /2 done/);
  for (const ticket of tickets) t.match(r.text, new RegExp(`${ticket}  done`));
});

t.test('petrel run (and submit) in this directory, with stdin and env; run streams', async (t) => {
  const { nodes } = await startCluster(t.teardown, 2, { nodeEnv: { EXEC_ALLOW: 'sh,pwd,cat' } });
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  const dir = tempDir(t.teardown);
  const gate = join(dir, 'go');
  const script = `echo first; echo warning >&2; while [ ! -e ${gate} ]; do sleep 0.02; done; echo "second $X"`;
  const { child, done } = spawnPetrel(['run', '-e', 'X=42', '--', 'sh', '-c', script], { env });
  let seen = '';
  let seenErr = '';
  child.stdout!.on('data', (d: string) => (seen += d));
  child.stderr!.on('data', (d: string) => (seenErr += d));
  await until(() => seen.includes('first\n'), 20_000, 'the first line');
  await until(() => seenErr.includes('warning\n'), 20_000, 'the first line of stderr');
  t.equal(seen, 'first\n', 'printed while the job still runs');
  t.equal(seenErr, 'warning\n', 'stderr too, on stderr');
  writeFileSync(gate, '');
  const r = await done;
  t.equal(r.code, 0);
  t.equal(r.stdout, 'first\nsecond 42\n');
  t.equal(r.stderr, 'warning\n');

  const pwd = await petrel(['run', '--cwd', dir, '--', 'pwd'], { env });
  t.equal(pwd.stdout, `${dir}\n`, '--cwd');
  const here = spawnPetrel(['run', '--', 'pwd'], { env, cwd: dir });
  t.equal((await here.done).stdout, `${dir}\n`, 'the current directory by default');
  const cat = await petrel(['run', '-i', '--', 'cat'], { env, input: 'from stdin\n' });
  t.equal(cat.stdout, 'from stdin\n', '-i sends standard input');

  // submit takes the same as run, and a schedule's fields, with units on its durations
  const script2 = 'echo "$X in $(pwd)"; cat';
  const args = ['submit', '-e', 'X=7', '--cwd', dir, '-i', '--delay', '0.2s', '--timeout', '1m'];
  const sub = await petrel([...args, 'exec', '--', 'sh', '-c', script2], { env, input: 'in\n' });
  t.equal(sub.code, 0, sub.stderr);
  const viaSubmit = await petrel(['wait', '--json', sub.stdout.trim()], { env });
  t.match(JSON.parse(viaSubmit.stdout), { state: 'done', output: `7 in ${dir}\nin` });
  const cron = ['submit', '--cron', '0 9 * * 1', '--tz', 'Europe/Paris', 'echo', 'weekly'];
  const schedule = (await petrel(cron, { env })).stdout.trim();
  const shown = await petrel(['result', schedule], { env });
  t.match(shown.stdout, `${schedule}  scheduled  cron "0 9 * * 1" Europe/Paris  next `);
  t.match((await petrel(['cancel', schedule], { env })).stdout, 'cancelled');

  const ticket = (
    await petrel(['submit', 'exec', '--', 'sh', '-c', 'echo a; echo oops >&2; echo b'], { env })
  ).stdout.trim();
  t.equal((await petrel(['wait', ticket], { env })).code, 0);
  const logs = await petrel(['logs', ticket], { env });
  t.same([logs.stdout, logs.stderr], ['a\nb\n', 'oops\n'], 'each stream on its own');
  const followed = await petrel(['logs', '-f', ticket], { env });
  t.same([followed.stdout, followed.stderr], ['a\nb\n', 'oops\n'], 'follow of a finished job');
  const asJson = JSON.parse((await petrel(['logs', '--json', ticket], { env })).stdout) as {
    ticket: string;
    output: string;
    lines: Array<{ stream: string; text: string }>;
  };
  t.equal(asJson.ticket, ticket);
  t.same(asJson.output.split('\n').sort(), ['a', 'b', 'oops']);
  t.same(
    [...asJson.lines].sort((x, y) => x.text.localeCompare(y.text)),
    [
      { stream: 'stdout', text: 'a' },
      { stream: 'stdout', text: 'b' },
      { stream: 'stderr', text: 'oops' },
    ],
  );
});

t.test('petrel retry runs a failed job again', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1, { nodeEnv: { EXEC_ALLOW: 'sh' } });
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  const ticket = (
    await petrel(['submit', 'exec', '--', 'sh', '-c', 'exit 2'], { env })
  ).stdout.trim();
  t.equal((await petrel(['wait', ticket], { env })).code, 1, 'failed');
  const retried = await petrel(['retry', ticket], { env });
  t.equal(retried.code, 0, retried.stderr);
  t.match(retried.stdout, new RegExp(`^${ticket} (queued|running|scheduled)\\n$`));
  const again = await petrel(['wait', '--json', ticket], { env });
  t.match(JSON.parse(again.stdout), { ticket, state: 'failed', exitCode: 2 });
  const done = (await petrel(['submit', 'echo', 'ok'], { env })).stdout.trim();
  await petrel(['wait', done], { env });
  const refused = await petrel(['retry', done], { env });
  t.equal(refused.code, 64, 'retrying a done job is refused');
});
