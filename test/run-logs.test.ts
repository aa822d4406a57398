import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { linesOf, LineSplitter } from '../node/log-lines.js';
import { overLimitNote } from '../node/log-framer.js';
import { RunLogs } from '../node/run-logs.js';
import { decodeLog, LOG_HEADER, logText } from '../shared/run-log-format.js';
import { tempDir } from './helpers/cluster.js';

const T = '01M8N8GFDVEWPNKZDT70DFR54E';

t.test('a run writes its log; reads see it while live and after', async (t) => {
  const logs = new RunLogs(tempDir(t.teardown), 1000);
  t.equal(logs.read({ ticket: T }, 0, 10).status, 'none');
  const run = logs.start({ ticket: T });
  t.match(logs.read({ ticket: T }, 0, 10), { status: 'ok', size: 0, live: true });
  run.write(Buffer.from('hello\n'));
  run.write(Buffer.from('world'), 'stderr');
  const head = LOG_HEADER.length;
  const live = logs.read({ ticket: T }, head, 100);
  t.same([live.data.toString(), live.live], ['ohello\n', true], 'a line is written when it ends');
  run.end();
  const after = logs.read({ ticket: T }, 0, 100);
  t.same(
    [after.data.toString(), after.size, after.live],
    [`${LOG_HEADER}ohello\nEworld\n`, head + 14, false],
  );
  t.same(decodeLog(after.data), [
    { stream: 'stdout', data: Buffer.from('hello\n') },
    { stream: 'stderr', data: Buffer.from('world') },
  ]);
  t.equal(logs.read({ ticket: T }, head + 7, 3).data.toString(), 'Ewo', 'any range of it');
});

t.test('past the limit the log keeps the limit and ends with a note', async (t) => {
  const logs = new RunLogs(tempDir(t.teardown), 10);
  const run = logs.start({ ticket: T, task: 3 });
  for (let i = 0; i < 100; i++) run.write(Buffer.from('0123456789'));
  run.end();
  const r = logs.read({ ticket: T, task: 3 }, 0, 10_000);
  t.equal(logText(r.data), `0123456789\n${overLimitNote(10, 990)}\n`);
  t.equal(logs.read({ ticket: T }, 0, 10).status, 'none', 'a task has its own log');
});

t.test('a new run replaces the log; a run printing nothing leaves none', async (t) => {
  const dir = tempDir(t.teardown);
  const logs = new RunLogs(dir, 1000);
  const first = logs.start({ ticket: T });
  first.write(Buffer.from('first run\n'));
  first.end();
  const second = logs.start({ ticket: T });
  t.equal(logs.read({ ticket: T }, 0, 100).data.length, 0, 'the old run is not the new one');
  second.write(Buffer.from('2nd'));
  second.end();
  t.equal(logText(logs.read({ ticket: T }, 0, 100).data), '2nd');
  logs.start({ ticket: T }).end();
  t.equal(logs.read({ ticket: T }, 0, 100).status, 'none');
  t.notOk(existsSync(join(dir, `${T}.log`)));
});

t.test('whenChanged wakes on output and on the end of the run', async (t) => {
  const logs = new RunLogs(tempDir(t.teardown), 1000);
  const run = logs.start({ ticket: T });
  let woke = false;
  const waiting = logs.whenChanged({ ticket: T }, 0, 60_000).then(() => (woke = true));
  await new Promise((r) => setImmediate(r));
  t.notOk(woke);
  run.write(Buffer.from('x\n'));
  await waiting;
  const ending = logs.whenChanged({ ticket: T }, 1, 60_000);
  run.end();
  await ending;
  await logs.whenChanged({ ticket: T }, 1, 60_000); // not live: at once
  t.pass('no wait outlived its cause');
});

t.test('expire deletes ended logs older than the cutoff, never live ones', async (t) => {
  const dir = tempDir(t.teardown);
  const logs = new RunLogs(dir, 1000);
  const old = logs.start({ ticket: T });
  old.write(Buffer.from('old'));
  old.end();
  const past = new Date(Date.now() - 3_600_000);
  utimesSync(join(dir, `${T}.log`), past, past);
  const U = '01M8N8GPXM6C8T3FQY2ECZ0VBG';
  const live = logs.start({ ticket: U });
  live.write(Buffer.from('live\n'));
  t.equal(logs.expire(Date.now() + 1000), 1);
  t.equal(logs.read({ ticket: T }, 0, 10).status, 'none');
  t.equal(logText(logs.read({ ticket: U }, 0, 100).data), 'live\n');
  live.end();
});

t.test('lines come out whole, however the bytes are chunked', async (t) => {
  const s = new LineSplitter();
  const e = Buffer.from('é');
  t.same(s.push(Buffer.from('one\ntw')), ['one']);
  t.same(s.push(Buffer.concat([Buffer.from('o '), e.subarray(0, 1)])), []);
  t.same(s.push(Buffer.concat([e.subarray(1), Buffer.from('\r\nthree\rfour\nfive')])), [
    'two é',
    'three',
    'four',
  ]);
  t.same(s.end(), ['five']);
  t.same(linesOf('a\nb\n'), ['a', 'b'], 'a final newline makes no empty line');
  t.same(linesOf(''), []);
  t.same(linesOf('\n\n'), ['', '']);
});
