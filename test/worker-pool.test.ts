import t from 'tap';
import { JobSpecSchema, type JobSpecInput } from '../shared/job.js';
import type { RunOutcome } from '../node/job-runner.js';
import { WorkerPool, type Worker } from '../node/worker-pool.js';
import { decodeText, encodeText } from '../shared/worker-text.js';
import {
  jobLine,
  parseWorkerArgs,
  parseWorkerLine,
  type JobReport,
} from '../node/worker-protocol.js';

const T1 = '01JAAAAAAAAAAAAAAAAAAAAAA1';
const T2 = '01JAAAAAAAAAAAAAAAAAAAAAA2';
const T3 = '01JAAAAAAAAAAAAAAAAAAAAAA3';
const spec = (s: Partial<JobSpecInput> = {}) => JobSpecSchema.parse({ type: 'resize', ...s });

t.test('worker lines: verbs, tickets, text rule, progress', async (t) => {
  t.same(parseWorkerLine(`DONE ${T1} hello   world `), {
    verb: 'DONE',
    ticket: T1,
    text: 'hello   world',
  });
  t.same(parseWorkerLine(`done ${T1.toLowerCase()}`), { verb: 'DONE', ticket: T1, text: '' });
  t.same(parseWorkerLine(`FAIL ${T1} "a\\nb"`), { verb: 'FAIL', ticket: T1, text: 'a\nb' });
  t.same(parseWorkerLine(`DONE ${T1} {"w":1}`), { verb: 'DONE', ticket: T1, text: '{"w":1}' });
  t.same(parseWorkerLine(`PROGRESS ${T1} 42.5`), { verb: 'PROGRESS', ticket: T1, percent: 42.5 });
  t.same(parseWorkerLine('ping'), { verb: 'PING' });
  t.same(parseWorkerLine('QUIT'), { verb: 'QUIT' });
  t.match(parseWorkerLine('DONE'), { code: 'BAD_REQUEST', message: /usage: DONE/ });
  t.match(parseWorkerLine('DONE nope'), { code: 'BAD_REQUEST', message: /not a ticket: nope/ });
  t.match(parseWorkerLine(`DONE ${T1} "unterminated`), { code: 'BAD_REQUEST', message: /JSON/ });
  t.match(parseWorkerLine(`PROGRESS ${T1} 101`), { code: 'BAD_REQUEST', message: /0 to 100/ });
  t.match(parseWorkerLine(`PROGRESS ${T1}`), { code: 'BAD_REQUEST' });
  t.match(parseWorkerLine('SUBMIT echo hi'), { code: 'UNKNOWN_COMMAND', message: /DONE, FAIL/ });
});

t.test('encodeText gives back what decodeText reads', async (t) => {
  for (const s of [
    'plain',
    '',
    ' padded ',
    '"quoted"',
    'two\nlines',
    'tab\there',
    'ünï',
    '{"a":1}',
  ]) {
    t.equal(decodeText(encodeText(s)), s, JSON.stringify(s));
  }
  t.equal(encodeText('plain words'), 'plain words', 'plain text stays plain');
  t.equal(encodeText('a\nb'), '"a\\nb"');
});

t.test('WORKER arguments', async (t) => {
  const ok = () => null;
  t.same(parseWorkerArgs('resize', ok), { type: 'resize', concurrency: 1 });
  t.same(parseWorkerArgs('resize 8', ok), { type: 'resize', concurrency: 8 });
  t.match(parseWorkerArgs('', ok), /usage/);
  t.match(parseWorkerArgs('resize 0', ok), /concurrency/);
  t.match(parseWorkerArgs('resize 2.5', ok), /concurrency/);
  t.match(parseWorkerArgs('resize 1 2', ok), /usage/);
  t.equal(
    parseWorkerArgs('exec', () => 'built in'),
    'built in',
  );
});

t.test('JOB line carries args, env, stdin, attempt and timeoutMs', async (t) => {
  const line = jobLine(T1, spec({ args: ['a', 2], env: { K: 'v' }, stdin: 'in', timeoutMs: 5 }), 2);
  t.match(line, new RegExp(`^JOB ${T1} \\{`));
  t.same(JSON.parse(line.slice(31)), {
    type: 'resize',
    args: ['a', '2'],
    attempt: 2,
    env: { K: 'v' },
    stdin: 'in',
    timeoutMs: 5,
  });
  t.notMatch(jobLine(T1, spec(), 1), /env|stdin|timeoutMs/, 'absent fields are left out');
});

/** A pool with recorded events and workers whose lines are recorded. */
function setup(outputLimit = 1000) {
  const log: string[] = [];
  const outcomes = new Map<string, RunOutcome>();
  const pool = new WorkerPool(outputLimit, {
    started: (id) => log.push(`started ${id}`),
    finished: (id, o) => {
      outcomes.set(id, o);
      log.push(`finished ${id} ${o.state}`);
    },
    lost: (id, ran, why) => log.push(`lost ${id} ${ran} ${why}`),
    typesChanged: () => log.push('types'),
  });
  const sent = new Map<Worker, string[]>();
  const attach = (type: string, n: number) => {
    const lines: string[] = [];
    const w = pool.attach(type, n, { send: (l) => lines.push(l) });
    sent.set(w, lines);
    return { w, lines };
  };
  const report = (w: Worker, line: string) => pool.report(w, parseWorkerLine(line) as JobReport);
  return { pool, log, outcomes, attach, report };
}

t.test('jobs go to the least busy worker, within concurrency, and wait otherwise', async (t) => {
  const { pool, attach, report, outcomes } = setup();
  t.notOk(pool.submit(T1, spec(), 1), 'no worker of the type: refused');
  const a = attach('resize', 2);
  const b = attach('resize', 1);
  t.same(pool.types(), [{ type: 'resize', capacity: 3 }]);
  t.ok(pool.submit(T1, spec(), 1));
  t.ok(pool.submit(T2, spec(), 1));
  t.ok(pool.submit(T3, spec(), 1));
  t.equal(a.lines.length + b.lines.length, 3, 'three jobs out, capacity three');
  t.equal(b.lines.length, 1, 'the one-slot worker got one');
  const T4 = '01JAAAAAAAAAAAAAAAAAAAAAA4';
  t.ok(pool.submit(T4, spec(), 1));
  t.equal(pool.waitingCount, 1, 'the fourth waits');
  const ticketOf = (l: string) => l.split(' ')[1] as string;
  const first = ticketOf(b.lines[0] as string);
  t.equal(report(b.w, `DONE ${first} ok`), null);
  t.same(outcomes.get(first), { state: 'done', exitCode: 0, output: 'ok', error: null });
  t.equal(ticketOf(b.lines[1] as string), T4, 'the freed worker takes the waiting job');
  t.match(report(b.w, `DONE ${first} again`), { code: 'NOT_FOUND' }, 'a second answer is refused');
  t.match(report(a.w, `DONE ${T4} x`), { code: 'NOT_FOUND' }, 'a job of another worker too');
});

t.test(
  'a leaving worker loses its jobs; the last one of a type loses the waiting ones',
  async (t) => {
    const { pool, log, attach } = setup();
    const a = attach('resize', 1);
    pool.submit(T1, spec(), 1);
    pool.submit(T2, spec(), 1);
    log.length = 0;
    pool.detach(a.w);
    t.same(log, [
      'types',
      `lost ${T1} true its worker disconnected`,
      `lost ${T2} false no worker for type resize`,
    ]);
    t.notOk(pool.serves('resize'));
    t.equal(pool.inFlight + pool.waitingCount, 0);
  },
);

t.test('silence past timeoutMs takes the job back; PROGRESS keeps it', async (t) => {
  const { pool, log, attach } = setup();
  const a = attach('resize', 1);
  const b = attach('resize', 1);
  pool.submit(T1, spec({ timeoutMs: 100 }), 1, 1000);
  pool.submit(T2, spec({ timeoutMs: 100 }), 1, 1000);
  const holderOf = (id: string) => [a, b].find((x) => x.lines.some((l) => l.includes(id)))!;
  const progress = parseWorkerLine(`PROGRESS ${T2} 50`) as JobReport;
  t.equal(pool.report(holderOf(T2).w, progress, 1080), null);
  log.length = 0;
  pool.expire(1090);
  t.same(log, [], 'nothing expires early');
  pool.expire(1150);
  const why = 'its worker was silent for more than timeoutMs (100 ms)';
  t.same(log, [`lost ${T1} true ${why}`], 'the silent one expires, the one with progress stays');
  pool.expire(1200);
  t.same(log.at(-1), `lost ${T2} true ${why}`);
  t.equal(holderOf(T1).lines.at(-1), `CANCEL ${T1}`, 'the silent worker is told');
  const late = parseWorkerLine(`DONE ${T1} late`) as JobReport;
  t.match(pool.report(holderOf(T1).w, late), { code: 'NOT_FOUND' }, 'a late answer is refused');
});

t.test(
  'cancel: waiting jobs go quietly, held ones end cancelled and the worker hears it',
  async (t) => {
    const { pool, log, attach } = setup();
    const a = attach('resize', 1);
    pool.submit(T1, spec(), 1);
    pool.submit(T2, spec(), 1);
    t.equal(pool.cancel(T2), 'queued');
    t.equal(pool.cancel(T1), 'running');
    t.equal(a.lines.at(-1), `CANCEL ${T1}`);
    t.match(log.at(-1), `finished ${T1} cancelled`);
    t.equal(pool.cancel(T1), 'unknown');
  },
);

t.test('FAIL text, output clipped to the limit, priority order', async (t) => {
  const { pool, attach, report, outcomes } = setup(4);
  const a = attach('resize', 1);
  pool.submit(T1, spec(), 1);
  pool.submit(T2, spec(), 1);
  pool.submit(T3, spec({ priority: 5 }), 1);
  report(a.w, `FAIL ${T1}`);
  t.same(outcomes.get(T1), {
    state: 'failed',
    exitCode: null,
    output: '',
    error: 'the worker reported a failure',
  });
  t.match(a.lines[1], `JOB ${T3}`, 'the higher priority goes first');
  report(a.w, `DONE ${T3} abcdefgh`);
  t.equal(outcomes.get(T3)?.output, 'abcd');
});
