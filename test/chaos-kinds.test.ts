import t from 'tap';
import {
  checkAcross,
  checkResult,
  makeJob,
  type Job,
  type View,
} from '../bench/chaos/job-kinds.js';
import { seededRandom } from '../bench/workload.js';

/** The chaos run's job mix and the checks each result is held to (bench/chaos/job-kinds.ts). */

const T1 = '01M8Y53YNGBGRXMX9DDK3H0AX1';
const T2 = '01M8Y53YNGBGRXMX9DDK3H0AX2';
const T3 = '01M8Y53YNGBGRXMX9DDK3H0AX3';

function mix(kind: 'plain' | 'system', n = 2000): Job[] {
  const rand = seededRandom(5);
  const jobs: Job[] = [];
  for (let i = 0; i < n; i++) jobs.push(makeJob(kind, i, n, rand, jobs, 50));
  return jobs;
}

t.test('plain submits sleep and echo jobs; system every kind, each a valid line', async (t) => {
  t.same(new Set(mix('plain').map((j) => j.kind)), new Set(['sleep', 'echo']));
  const jobs = mix('system');
  const kinds = new Set(jobs.map((j) => j.kind));
  t.same(
    kinds,
    new Set(['sleep', 'echo', 'delay', 'key', 'retry', 'after', 'cancel', 'worker', 'tasks']),
  );
  const parses = (line: string) => {
    try {
      return line.startsWith('SUBMIT {') && typeof JSON.parse(line.slice(7)) === 'object';
    } catch {
      return false;
    }
  };
  t.same(
    jobs.filter((j) => !parses(j.line)),
    [],
    'each a SUBMIT of a JSON spec',
  );
  const waiting = jobs.flatMap((j, i) => (j.after === undefined ? [] : [{ j, i }]));
  t.ok(waiting.length > 0, 'some wait for another');
  t.same(
    waiting.filter(({ j, i }) => !(j.after! < i)),
    [],
    'each for an earlier job',
  );
  t.same(
    waiting.filter(
      ({ j }) =>
        j.expect.state !== (jobs[j.after!]!.expect.state === 'done' ? 'done' : 'cancelled'),
    ),
    [],
    'done after a done job, cancelled after any other',
  );
  const keys = jobs.filter((j) => j.kind === 'key').map((j) => j.expect.key);
  t.ok(new Set(keys).size < keys.length, 'keys are shared');
});

t.test('checkResult: what each kind promises', async (t) => {
  const job = (kind: Job['kind'], expect: Job['expect']): Job => ({ kind, line: '', expect });
  const ok = { ticket: T1, state: 'done' };
  t.equal(
    checkResult(job('echo', { state: 'done', output: 'a' }), T1, { ...ok, output: 'a' }),
    null,
  );
  t.match(
    checkResult(job('echo', { state: 'done', output: 'a' }), T1, { ...ok, output: 'b' }),
    /^output "b"/,
  );
  t.match(checkResult(job('echo', { state: 'done' }), T1, { ...ok, ticket: T2 }), /^the result of/);
  t.match(
    checkResult(job('retry', { state: 'failed' }), T1, { ...ok, state: 'cancelled', error: 'x' }),
    /^cancelled \(x\), not failed/,
  );

  const retry = job('retry', { state: 'failed', failedRuns: 2 });
  const runs = (codes: Array<number | null>) => codes.map((exitCode) => ({ exitCode }));
  const failed = { ticket: T1, state: 'failed' };
  t.equal(
    checkResult(retry, T1, { ...failed, runs: runs([null, 3, 3]) }),
    null,
    'a lost run is not a failed one',
  );
  t.match(checkResult(retry, T1, { ...failed, runs: runs([3, 3, 3]) }), /^3 failed runs, not 2/);

  const delay = job('delay', { state: 'done', notBeforeMs: 500 });
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  t.equal(checkResult(delay, T1, { ...ok, submittedAt: at(0), startedAt: at(500) }), null);
  t.match(
    checkResult(delay, T1, { ...ok, submittedAt: at(0), startedAt: at(499) }),
    /started 499 ms/,
  );

  const tasks = job('tasks', { state: 'done', tasks: ['a', 'b'] });
  const withTasks = (outputs: string[]): View => ({
    ...ok,
    tasks: outputs.map((output, index) => ({ index, output })),
  });
  t.equal(checkResult(tasks, T1, withTasks(['a', 'b'])), null);
  t.match(checkResult(tasks, T1, withTasks(['a', 'c'])), /^task outputs/);
});

t.test('checkAcross: one ticket per key, and no start before the job waited for', async (t) => {
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const keyed: Job = { kind: 'key', line: '', expect: { state: 'done', key: 'k' } };
  const first: Job = { kind: 'echo', line: '', expect: { state: 'done' } };
  const after: Job = { kind: 'after', line: '', expect: { state: 'done' }, after: 0 };
  const views = new Map<string, View>([
    [T1, { state: 'done', finishedAt: at(100) }],
    [T2, { state: 'done', startedAt: at(100) }],
  ]);
  t.same(checkAcross([first, after], [T1, T2], views), []);
  views.set(T2, { state: 'done', startedAt: at(99) });
  t.match(checkAcross([first, after], [T1, T2], views), [
    { kind: 'after', why: /started at .* before/ },
  ]);
  views.set(T2, { state: 'cancelled', error: `DEPENDENCY_FAILED ${T1}` });
  t.same(
    checkAcross([first, after], [T1, T2], views),
    [],
    'cancelled naming the job it waited for',
  );
  views.set(T2, { state: 'cancelled', error: 'cancelled by a client' });
  t.match(checkAcross([first, after], [T1, T2], views), [
    { kind: 'after', why: /not DEPENDENCY_FAILED/ },
  ]);
  t.same(checkAcross([keyed, keyed], [T3, T3], new Map()), [], 'one ticket for the key');
  t.match(checkAcross([keyed, keyed], [T3, T1], new Map()), [
    { kind: 'key', why: /^key k answered 2 tickets/ },
  ]);
});
