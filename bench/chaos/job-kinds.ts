/**
 * The jobs of a chaos run and what each must end as. `plain` submits `sleep` and `echo` jobs
 * only; `system` mixes in what a job system promises beyond running a command, each with an
 * outcome that kill -9 of any process must not change:
 *
 * - `delay`: an `echo` with `delayMs` must not start before its time;
 * - `key`: several jobs share each key (on any node, concurrently): one ticket per key;
 * - `retry`: a command that always fails, with `retry.attempts` 2: it ends `failed` after exactly
 *   two failed runs (a failure reported twice by a node that died is not a second run);
 * - `after`: an `echo` that waits for an earlier job of the run: it starts only once that one is
 *   done, or ends `cancelled` with `DEPENDENCY_FAILED <ticket>` when that one did not;
 * - `cancel`: a long `sleep` its client cancels once it has the ticket: it ends `cancelled`;
 * - `worker`: a job of a custom type, served by `petrel worker` processes that lose their node
 *   whenever it is killed: its output is its argument in capitals;
 * - `tasks`: a job of three `echo` tasks, each with its output.
 *
 * Pure: the run submits `line` (with `{after}` replaced by the ticket of job `after`), sends
 * `CANCEL <ticket>` when `cancel` says so, and hands each final result to `checkResult`, then
 * every result to `checkAcross`.
 */

export type Mix = 'plain' | 'system';

export interface Expect {
  readonly state: 'done' | 'failed' | 'cancelled';
  /** The output of a `done` echo. */
  readonly output?: string;
  /** Runs that failed (exit code not 0), for a job that retries. */
  readonly failedRuns?: number;
  /** It may not start earlier than this after its submission. */
  readonly notBeforeMs?: number;
  /** Each task's output, by index. */
  readonly tasks?: readonly string[];
  readonly key?: string;
}

export interface Job {
  readonly kind:
    'sleep' | 'echo' | 'delay' | 'key' | 'retry' | 'after' | 'cancel' | 'worker' | 'tasks';
  /** The SUBMIT line; `{after}` stands for the ticket of job `after`. */
  readonly line: string;
  readonly expect: Expect;
  /** The index of the job this one waits for. */
  readonly after?: number;
  /** Its client cancels it once it has the ticket. */
  readonly cancel?: true;
}

/** The fields of a result the checks read. */
export interface View {
  readonly ticket?: string;
  readonly state?: string;
  readonly output?: string;
  readonly error?: string;
  readonly submittedAt?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly runs?: ReadonlyArray<{ readonly exitCode?: number | null }>;
  readonly tasks?: ReadonlyArray<{ readonly index?: number; readonly output?: string }>;
}

/** The custom type the system mix's workers serve, and the command they run per job. */
export const WORKER_TYPE = 'chaos-upper';
export const WORKER_COMMAND = ['sh', '-c', 'printf %s "$1" | tr a-z A-Z', 'upper', '{}'];

/** Every failed run of a `retry` job: a command that always exits 3. */
export const RETRY_ATTEMPTS = 2;
const LOST_RUNS = 10;

const submit = (spec: object): string => `SUBMIT ${JSON.stringify(spec)}`;

/** Job `i` of `jobs`; `earlier` are the jobs made before it (an `after` job picks one). */
export function makeJob(
  mix: Mix,
  i: number,
  jobs: number,
  rand: () => number,
  earlier: readonly Job[],
  maxSleepMs: number,
): Job {
  const r = rand();
  if (mix === 'plain' || r < 0.4) {
    if (r < (mix === 'plain' ? 0.5 : 0.15)) {
      const ms = Math.floor(rand() * (maxSleepMs + 1));
      const line = submit({ type: 'sleep', args: [String(ms)], maxAttempts: LOST_RUNS });
      return { kind: 'sleep', line, expect: { state: 'done' } };
    }
    const text = `chaos ${i}`;
    const line = submit({ type: 'echo', args: [text], maxAttempts: LOST_RUNS });
    return { kind: 'echo', line, expect: { state: 'done', output: text } };
  }
  if (r < 0.5) {
    const delayMs = Math.floor(rand() * 1000);
    const text = `later ${i}`;
    const spec = { type: 'echo', args: [text], delayMs, maxAttempts: LOST_RUNS };
    return {
      kind: 'delay',
      line: submit(spec),
      expect: { state: 'done', output: text, notBeforeMs: delayMs },
    };
  }
  if (r < 0.65) {
    const key = `chaos-k${Math.floor(rand() * Math.max(1, Math.floor(jobs / 40)))}`;
    const text = `key ${key}`;
    const spec = { type: 'echo', args: [text], key, maxAttempts: LOST_RUNS };
    return { kind: 'key', line: submit(spec), expect: { state: 'done', output: text, key } };
  }
  if (r < 0.75) {
    const spec = {
      type: 'exec',
      args: ['sh', '-c', 'exit 3'],
      retry: { attempts: RETRY_ATTEMPTS, backoffMs: 50 },
      maxAttempts: LOST_RUNS,
    };
    return {
      kind: 'retry',
      line: submit(spec),
      expect: { state: 'failed', failedRuns: RETRY_ATTEMPTS },
    };
  }
  if (r < 0.85 && i > 0) {
    const after = Math.max(0, i - 1 - Math.floor(rand() * 4));
    const text = `after ${i}`;
    const spec = { type: 'echo', args: [text], after: ['{after}'], maxAttempts: LOST_RUNS };
    const done = earlier[after]?.expect.state === 'done';
    const expect: Expect = done ? { state: 'done', output: text } : { state: 'cancelled' };
    return { kind: 'after', line: submit(spec), expect, after };
  }
  if (r < 0.9) {
    const line = submit({ type: 'sleep', args: ['10000'], maxAttempts: LOST_RUNS });
    return { kind: 'cancel', line, expect: { state: 'cancelled' }, cancel: true };
  }
  if (r < 0.95) {
    const text = `w ${i}`;
    const line = submit({ type: WORKER_TYPE, args: [text], maxAttempts: LOST_RUNS });
    return { kind: 'worker', line, expect: { state: 'done', output: text.toUpperCase() } };
  }
  const tasks = [0, 1, 2].map((k) => `task ${i}.${k}`);
  const spec = {
    tasks: tasks.map((text) => ({ type: 'echo', args: [text] })),
    maxAttempts: LOST_RUNS,
  };
  return { kind: 'tasks', line: submit(spec), expect: { state: 'done', tasks } };
}

/** What is wrong with one job's final result, or null. */
export function checkResult(job: Job, ticket: string, v: View): string | null {
  const e = job.expect;
  if (v.ticket !== ticket) return `the result of ${v.ticket ?? 'no ticket'}`;
  if (v.state !== e.state) return `${v.state ?? '?'} (${v.error ?? 'no error'}), not ${e.state}`;
  if (e.output !== undefined && v.output !== e.output) {
    return `output ${JSON.stringify(v.output)}, not ${JSON.stringify(e.output)}`;
  }
  if (e.failedRuns !== undefined) {
    const failed = (v.runs ?? []).filter(
      (run) => typeof run.exitCode === 'number' && run.exitCode !== 0,
    );
    if (failed.length !== e.failedRuns) return `${failed.length} failed runs, not ${e.failedRuns}`;
  }
  if (e.notBeforeMs !== undefined) {
    const waited = Date.parse(v.startedAt ?? '') - Date.parse(v.submittedAt ?? '');
    if (!(waited >= e.notBeforeMs))
      return `started ${waited} ms after its submission, before ${e.notBeforeMs}`;
  }
  if (e.tasks !== undefined) {
    const outputs = e.tasks.map((_, k) => (v.tasks ?? []).find((task) => task.index === k)?.output);
    if (JSON.stringify(outputs) !== JSON.stringify(e.tasks)) {
      return `task outputs ${JSON.stringify(outputs)}, not ${JSON.stringify(e.tasks)}`;
    }
  }
  return null;
}

/**
 * What is wrong between jobs: a key answered with two tickets; a job that started before the
 * job it waits for was done, or was cancelled without naming it. `ticketOf[i]` is job i's
 * ticket, `views` every final result by ticket.
 */
export function checkAcross(
  jobs: readonly Job[],
  ticketOf: ReadonlyArray<string | null | undefined>,
  views: ReadonlyMap<string, View>,
): Array<{ kind: Job['kind']; why: string }> {
  const wrong: Array<{ kind: Job['kind']; why: string }> = [];
  const after = (why: string) => wrong.push({ kind: 'after', why });
  const byKey = new Map<string, Set<string>>();
  jobs.forEach((job, i) => {
    const ticket = ticketOf[i];
    if (!ticket) return; // never given one
    if (job.expect.key !== undefined) {
      const tickets = byKey.get(job.expect.key) ?? new Set();
      byKey.set(job.expect.key, tickets.add(ticket));
    }
    if (job.after === undefined) return;
    const before = ticketOf[job.after];
    const mine = views.get(ticket);
    const theirs = before ? views.get(before) : undefined;
    if (!mine || !theirs) return; // counted where its result went missing
    if (
      mine.state === 'done' &&
      !(Date.parse(mine.startedAt ?? '') >= Date.parse(theirs.finishedAt ?? ''))
    ) {
      after(
        `${ticket} started at ${mine.startedAt}, before ${before} it waits for ended at ${theirs.finishedAt}`,
      );
    }
    if (mine.state === 'cancelled' && mine.error !== `DEPENDENCY_FAILED ${before}`) {
      after(
        `${ticket} cancelled with ${JSON.stringify(mine.error)}, not DEPENDENCY_FAILED ${before}`,
      );
    }
  });
  for (const [key, tickets] of byKey) {
    if (tickets.size > 1)
      wrong.push({
        kind: 'key',
        why: `key ${key} answered ${tickets.size} tickets: ${[...tickets].join(' ')}`,
      });
  }
  return wrong;
}
