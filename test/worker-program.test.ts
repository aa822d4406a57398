import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { commandOf, runProgram } from '../cli/worker-program.js';
import { resultLine } from '../client/worker.js';
import { until } from './helpers/cluster.js';

t.test('petrel worker: where the job args go', async (t) => {
  t.same(commandOf(['gzip', '-9'], ['a b', 'c']), ['gzip', '-9', 'a b', 'c'], 'appended');
  t.same(commandOf(['cp', '{}', '/out'], ['a', 'b']), ['cp', 'a', 'b', '/out'], '{} as words');
  t.same(commandOf(['convert', '--in={}'], ['a', 'b']), ['convert', '--in=a b'], '{} in a word');
  t.same(commandOf(['true', '{}'], []), ['true'], 'no args: {} vanishes');
});

t.test('result lines fit the node line limit and keep the text rule', async (t) => {
  const T = '01JAAAAAAAAAAAAAAAAAAAAAA1';
  t.equal(resultLine('DONE', T, 'ok'), `DONE ${T} ok`);
  t.equal(resultLine('DONE', T, ''), `DONE ${T}`);
  t.equal(resultLine('FAIL', T, 'a\nb'), `FAIL ${T} "a\\nb"`);
  const big = resultLine('DONE', T, 'x'.repeat(200_000));
  t.ok(Buffer.byteLength(big) <= 60 * 1024, 'cut to fit');
  t.ok(big.startsWith(`DONE ${T} "xxx`), 'the head, JSON-encoded (the marker has newlines)');
});

t.test('a result too long for one line keeps its head and tail around a marker', async (t) => {
  const T = '01JAAAAAAAAAAAAAAAAAAAAAA1';
  const lines = Array.from({ length: 30_000 }, (_, i) => `line ${i + 1}`);
  const text = lines.join('\n');
  const line = resultLine('DONE', T, text);
  t.ok(Buffer.byteLength(line) <= 60 * 1024, 'it fits the line limit');
  const sent = JSON.parse(line.slice(`DONE ${T} `.length)) as string;
  t.ok(sent.startsWith('line 1\nline 2\n'), 'the head is kept');
  t.ok(sent.endsWith('line 29999\nline 30000'), 'the tail is kept');
  const m = /\n\[\.\.\. (\d+) bytes dropped \.\.\.\]\n/.exec(sent);
  t.ok(m, 'a marker says where bytes were dropped');
  const kept = Buffer.byteLength(sent) - Buffer.byteLength(m?.[0] ?? '');
  t.equal(Number(m?.[1]), Buffer.byteLength(text) - kept, 'and how many');

  // a marker already in the dropped part (a program's output clipped before) is counted in
  const y = 'y'.repeat(100_000);
  const before = `${y}\n[... 1000000 bytes dropped ...]\n${y}`;
  const again = JSON.parse(resultLine('DONE', T, before).slice(`DONE ${T} `.length)) as string;
  const n = Number(/\[\.\.\. (\d+) bytes dropped/.exec(again)?.[1]);
  t.ok(n > 1_000_000 && n < 1_200_000, `the earlier drop is counted (${n})`);

  const emoji = resultLine('FAIL', T, '😀'.repeat(40_000));
  const err = JSON.parse(emoji.slice(`FAIL ${T} `.length)) as string;
  t.notMatch(
    err,
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/,
    'no surrogate pair is split',
  );
});

/** A job for `runProgram` that `signal` takes back. */
const jobWith = (signal: AbortSignal) => ({
  ticket: '01JAAAAAAAAAAAAAAAAAAAAAA1',
  type: 't',
  args: [],
  env: {},
  stdin: undefined,
  attempt: 1,
  timeoutMs: undefined,
  signal,
  progress: () => {},
});

t.test(
  'petrel worker: a program printing more than a line holds keeps its head and tail',
  async (t) => {
    const out = await runProgram(['seq', '1', '200000'], jobWith(new AbortController().signal));
    t.ok(out.startsWith('1\n2\n3\n'), 'the head');
    t.ok(out.endsWith('199999\n200000\n'), 'the tail');
    t.match(out, /\[\.\.\. \d+ bytes dropped \.\.\.\]/);
  },
);

t.test('petrel worker: a program and what it started end with its job', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-worker-program-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const pidIn = async (file: string) =>
    Number(await until(() => existsSync(file) && readFileSync(file, 'utf8').trim(), 10_000));

  // taken back: the program's own child goes too, and the run ends at once
  const taken = new AbortController();
  const pidFile = join(dir, 'taken.pid');
  const run = runProgram(
    ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`],
    jobWith(taken.signal),
  );
  const pid = await pidIn(pidFile);
  const started = Date.now();
  taken.abort();
  await t.rejects(run, /signal SIGKILL/);
  t.ok(Date.now() - started < 5_000, 'the run ended at once');
  await until(() => !alive(pid), 5_000, 'the sleep it started to be gone');

  // done, with something left running in the background that holds its stdout
  const leftFile = join(dir, 'left.pid');
  const before = Date.now();
  const out = await runProgram(
    ['sh', '-c', `sleep 30 & echo $! > ${leftFile}; echo out`],
    jobWith(new AbortController().signal),
  );
  t.equal(out, 'out\n');
  t.ok(Date.now() - before < 10_000, 'done without waiting for what it left running');
  await until(() => !alive(Number(readFileSync(leftFile, 'utf8'))), 5_000, 'the leftover to go');
});
