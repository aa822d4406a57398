import { readFileSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import t from 'tap';
import { execRefusal, instantOutcome, runJob, type RunnerOptions } from '../node/job-runner.js';
import { JobSpecSchema } from '../shared/job.js';

const opts: RunnerOptions = {
  execAllow: ['sh', 'echo', 'env', 'printf', 'cat', 'pwd'],
  outputLimit: 65536,
};

function spec(type: 'sleep' | 'echo' | 'exec', args: string[], timeoutMs?: number) {
  return JobSpecSchema.parse({ type, args, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

function run(
  s: ReturnType<typeof spec>,
  o: RunnerOptions = opts,
  signal = new AbortController().signal,
) {
  return runJob(s, o, signal);
}

/** Polls `check` until it is true or the deadline passes; never a fixed sleep. */
async function until(check: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True once `pid` is gone or a zombie (dead, waiting for a reaper that is not us). */
function isDead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

t.test('sleep waits and succeeds', async (t) => {
  const start = Date.now();
  const out = await run(spec('sleep', ['50']));
  t.same(out, { state: 'done', exitCode: 0, output: '', error: null });
  t.ok(Date.now() - start >= 45, 'took about as long as asked');
});

t.test('a sleep exactly as long as its timeout is done, and a sleep of 0 is done', async (t) => {
  const done = { state: 'done', exitCode: 0, output: '', error: null };
  t.same(await run(spec('sleep', ['30'], 30)), done);
  t.same(await run(spec('sleep', ['0'])), done);
});

t.test('sleep past its timeout fails with TIMEOUT, quickly', async (t) => {
  const start = Date.now();
  const out = await run(spec('sleep', ['60000'], 30));
  t.same(out, { state: 'failed', exitCode: null, output: '', error: 'TIMEOUT' });
  t.ok(Date.now() - start < 5000);
});

t.test('sleep is cancelled by abort and leaves no listener', async (t) => {
  const ac = new AbortController();
  const pending = runJob(spec('sleep', ['60000']), opts, ac.signal);
  t.equal(getEventListeners(ac.signal, 'abort').length, 1);
  ac.abort();
  const out = await pending;
  t.equal(out.state, 'cancelled');
  t.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

t.test('an already aborted signal cancels at once', async (t) => {
  const ac = new AbortController();
  ac.abort();
  t.equal((await runJob(spec('exec', ['sh', '-c', 'exit 0']), opts, ac.signal)).state, 'cancelled');
});

t.test('echo returns its text, capped at the limit on a character boundary', async (t) => {
  t.same(await run(spec('echo', ['hello', 'petrel'])), {
    state: 'done',
    exitCode: 0,
    output: 'hello petrel',
    error: null,
  });
  const capped = await run(spec('echo', ['ééé']), { ...opts, outputLimit: 5 });
  t.equal(capped.output, 'éé');
  t.equal(capped.state, 'done');
  t.match(capped.error, /clipped.* dropped from the end;/, 'too small a limit for a marker');
});

t.test('echo ends at once, as runJob ends it; the other types wait', async (t) => {
  const small = { ...opts, outputLimit: 40 };
  for (const text of ['x', '', 'a  b', 'ééé', '😀 \ud800 lone', 'é'.repeat(13), 'y'.repeat(90)]) {
    const s = spec('echo', [text]);
    for (const o of [opts, small]) {
      t.same(instantOutcome(s, o), await run(s, o), `the same: ${text.slice(0, 12)}`);
    }
  }
  const lone = instantOutcome(spec('echo', ['a\ud800b']), opts);
  t.equal(lone?.output, 'a\ufffdb', 'a lone surrogate reads back as U+FFFD, as from bytes');
  t.equal(instantOutcome(spec('sleep', ['1']), opts), undefined);
  t.equal(instantOutcome(spec('exec', ['true']), opts), undefined);
});

t.test('exec captures stdout and stderr, and reports exit codes and signals', async (t) => {
  const both = await run(spec('exec', ['sh', '-c', 'echo out; echo err >&2']));
  t.equal(both.state, 'done');
  t.match(both.output, /out\n/);
  t.match(both.output, /err\n/);

  t.same(await run(spec('exec', ['sh', '-c', 'echo bad; exit 3'])), {
    state: 'failed',
    exitCode: 3,
    output: 'bad\n',
    error: 'exit code 3',
  });
  const killed = await run(spec('exec', ['sh', '-c', 'kill -TERM $$']));
  t.equal(killed.state, 'failed');
  t.equal(killed.exitCode, null);
  t.equal(killed.error, 'signal SIGTERM');
});

t.test('shell metacharacters reach the program literally', async (t) => {
  // Harmless if a shell ever did interpret it: no writes, no deletes, only different output.
  const text = `$(echo injected); \`echo injected\` && echo "$HOME" | tr a-z A-Z * ? 'q' \\`;
  const out = await run(spec('exec', ['echo', text]));
  t.equal(out.state, 'done');
  t.equal(out.output, `${text}\n`);
});

t.test('the environment is scrubbed', async (t) => {
  process.env.PETREL_TEST_SECRET = 'do-not-leak';
  t.teardown(() => {
    delete process.env.PETREL_TEST_SECRET;
  });
  const out = await run(spec('exec', ['env', '-0']));
  t.equal(out.state, 'done');
  t.notMatch(out.output, /PETREL_TEST_SECRET|do-not-leak/);
  // tap's process tracking patches child_process to add its own variables; drop only those.
  // NUL-separated, because some of tap's values hold newlines.
  const vars = out.output
    .split('\0')
    .filter((v) => v !== '')
    .filter((v) => !v.startsWith('_TAPJS_') && !/^NODE_OPTIONS=.*@tapjs\/processinfo/.test(v))
    .sort();
  t.same(vars, ['HOME=/tmp', 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin']);
});

t.test("env adds variables to the scrubbed base, never the node's own", async (t) => {
  process.env.PETREL_TEST_SECRET = 'do-not-leak';
  t.teardown(() => {
    delete process.env.PETREL_TEST_SECRET;
  });
  const s = JobSpecSchema.parse({
    type: 'exec',
    args: ['sh', '-c', 'echo "$GREETING|$HOME|$PETREL_TEST_SECRET"'],
    env: { GREETING: 'hi there', HOME: '/root-of-job' },
  });
  const out = await run(s);
  t.equal(out.output, 'hi there|/root-of-job|\n', 'its own values win over the base');
});

t.test('cwd sets the working directory; a missing one fails the run clearly', async (t) => {
  const out = await run(JobSpecSchema.parse({ type: 'exec', args: ['pwd'], cwd: '/usr' }));
  t.equal(out.output, '/usr\n');
  const plain = await run(spec('exec', ['pwd']));
  t.equal(plain.output, '/tmp\n', 'without cwd, jobs run in /tmp');
  const missing = await run(
    JobSpecSchema.parse({ type: 'exec', args: ['pwd'], cwd: '/no/such/dir' }),
  );
  t.equal(missing.state, 'failed');
  t.equal(missing.error, 'cwd /no/such/dir does not exist on this node');
  const file = await run(
    JobSpecSchema.parse({ type: 'exec', args: ['pwd'], cwd: '/etc/hostname' }),
  );
  t.match(file.error, /is not a directory/);
});

t.test('stdin reaches the program; without it, stdin is empty', async (t) => {
  const out = await run(
    JobSpecSchema.parse({ type: 'exec', args: ['cat'], stdin: 'line 1\nééé\n' }),
  );
  t.equal(out.state, 'done');
  t.equal(out.output, 'line 1\nééé\n');
  const big = 'x'.repeat(64 * 1024);
  const all = await run(
    JobSpecSchema.parse({ type: 'exec', args: ['sh', '-c', 'wc -c'], stdin: big }),
  );
  t.equal(all.output.trim(), String(64 * 1024), 'all 64 KiB arrive');
  const none = await run(spec('exec', ['cat']));
  t.same([none.state, none.output], ['done', '']);
  const ignored = await run(
    JobSpecSchema.parse({ type: 'exec', args: ['sh', '-c', 'exit 0'], stdin: big }),
  );
  t.equal(ignored.state, 'done', 'a program that never reads its stdin is not an error');
});

t.test('a big output keeps its head and tail while the program runs to the end', async (t) => {
  const out = await run(
    spec('exec', ['sh', '-c', "head -c 1000000 /dev/zero | tr '\\0' a; echo end >&2"]),
    {
      ...opts,
      outputLimit: 1000,
    },
  );
  t.equal(out.state, 'done', 'not blocked on a full pipe, not failed');
  t.equal(out.exitCode, 0);
  t.ok(Buffer.byteLength(out.output) <= 1000, 'the result stays within the limit');
  t.match(out.output, /^a{400,}\n\[\.\.\. \d+ bytes dropped \.\.\.\]\na{300,}end\n$/);
  const kept = out.output.replace(/\n\[.*\]\n/, '').length;
  const dropped = Number(/(\d+) bytes dropped/.exec(out.output)?.[1]);
  t.equal(kept + dropped, 1_000_004, 'the marker counts exactly the bytes left out');
  t.match(out.error, /clipped to JOB_OUTPUT_LIMIT \(1000 bytes\).* dropped from the middle;/);
});

t.test("an exec whose limit is too small for a marker says its output's end was cut", async (t) => {
  const out = await run(spec('exec', ['printf', '%s', 'abcdefgh']), { ...opts, outputLimit: 5 });
  t.equal(out.output, 'abcde');
  t.match(out.error, /3 bytes dropped from the end;/);
});

t.test('a capped output never ends in half a character', async (t) => {
  const out = await run(spec('exec', ['printf', '%s', 'ééé']), { ...opts, outputLimit: 5 });
  t.equal(out.output, 'éé');
  const none = await run(spec('exec', ['printf', 'x']), { ...opts, outputLimit: 0 });
  t.equal(none.output, '');
});

t.test('a timeout kills the whole process group', async (t) => {
  const start = Date.now();
  const out = await run(spec('exec', ['sh', '-c', 'echo $$; sleep 30 & echo $!; wait'], 500));
  t.equal(out.state, 'failed');
  t.equal(out.error, 'TIMEOUT');
  t.ok(Date.now() - start < 10_000, 'did not wait for the children');
  const pids = out.output.trim().split('\n').map(Number);
  t.equal(pids.length, 2, 'the shell printed its pid and its child sleep pid');
  for (const pid of pids) await until(() => isDead(pid), `pid ${pid} to die`);
});

t.test('abort kills a running program and its group', async (t) => {
  const dir = t.testdir();
  const pidFile = join(dir, 'pid');
  const ac = new AbortController();
  const pending = runJob(
    spec('exec', ['sh', '-c', 'sleep 30 & echo $! > "$1"; wait', 'sh', pidFile]),
    opts,
    ac.signal,
  );
  let pid = 0;
  await until(() => {
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      return false;
    }
    return pid > 0;
  }, 'the job to start');
  ac.abort();
  const out = await pending;
  t.equal(out.state, 'cancelled');
  t.equal(out.exitCode, null);
  await until(() => isDead(pid), 'the grandchild to die');
  t.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

t.test('what a job leaves running after it exits is killed with it', async (t) => {
  const start = Date.now();
  const out = await run(spec('exec', ['sh', '-c', 'sleep 30 & echo $!']));
  t.equal(out.state, 'done');
  t.ok(Date.now() - start < 10_000, 'did not wait for the background sleep');
  const pid = Number(out.output.trim());
  await until(() => isDead(pid), 'the background sleep to die');
});

t.test('a program that cannot start fails clearly', async (t) => {
  const out = await run(spec('exec', ['no-such-program-petrel']), { ...opts, execAllow: ['*'] });
  t.equal(out.state, 'failed');
  t.equal(out.exitCode, null);
  t.equal(out.error, 'cannot run no-such-program-petrel: no such program');
});

t.test('exec of a forbidden program fails without running', async (t) => {
  const out = await run(spec('exec', ['ls', '/']));
  t.equal(out.state, 'failed');
  t.equal(out.output, '');
  t.match(out.error, /FORBIDDEN.*ls is not in EXEC_ALLOW/);
});

t.test('execRefusal', async (t) => {
  const allow = ['echo', '/usr/bin/printf'];
  t.equal(execRefusal('echo', allow), null);
  t.equal(execRefusal('/usr/bin/printf', allow), null);
  t.equal(execRefusal('/usr/bin/../bin/printf', allow), null, 'the same path, normalised');
  t.equal(execRefusal('//usr/bin//printf', allow), null);

  t.match(execRefusal('ls', allow), /not in EXEC_ALLOW/);
  t.match(
    execRefusal('printf', allow),
    /not in EXEC_ALLOW/,
    'a listed path does not list the name',
  );
  t.match(
    execRefusal('/bin/echo', allow),
    /not in EXEC_ALLOW/,
    'a listed name does not list a path',
  );
  t.match(execRefusal('/bin/../bin/sh', allow), /not in EXEC_ALLOW/);
  t.match(execRefusal('../bin/echo', allow), /relative path/);
  t.match(execRefusal('./echo', allow), /relative path/);
  t.match(execRefusal('bin/echo', allow), /relative path/);
  t.match(execRefusal('..', ['..']), /not a program/);
  t.match(execRefusal('', allow), /needs a program/);
  t.match(execRefusal('echo\0x', allow), /needs a program/);
  t.match(execRefusal('echo', []), /disabled/);

  t.equal(execRefusal('anything', ['*']), null);
  t.equal(execRefusal('/opt/tool', ['*']), null);
  t.match(execRefusal('../bin/sh', ['*']), /relative path/, '* still refuses relative paths');
});
