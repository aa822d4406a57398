import t from 'tap';
import { JobSpecSchema, retryOf, tenantOf } from '../shared/job.js';
import { viewToClient, type JobView } from '../shared/job-view.js';

const ok = (spec: unknown) => JobSpecSchema.safeParse(spec);
const why = (spec: unknown) => {
  const r = JobSpecSchema.safeParse(spec);
  return r.success
    ? null
    : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
};

t.test('numbers in args are taken as their decimal text', async (t) => {
  const r = ok({ type: 'exec', args: ['sleep', 1.5, 20] });
  t.ok(r.success);
  t.same(r.success && r.data.args, ['sleep', '1.5', '20']);
});

t.test('a job has a type or tasks, exactly one', async (t) => {
  t.match(why({}), /needs a type/);
  t.match(why({ type: 'echo', tasks: [{ type: 'echo' }] }), /either type or tasks/);
  t.equal(
    why({
      tasks: [
        { type: 'echo', args: ['a'] },
        { type: 'sleep', args: [5] },
      ],
    }),
    null,
  );
  t.match(why({ tasks: [{ type: 'sleep', args: [] }] }), /^tasks\.0\.args/);
  t.match(why({ tasks: [{ type: 'echo' }], args: ['x'] }), /args belong in each task/);
  t.match(why({ tasks: [] }), /tasks/);
  t.match(why({ type: 'echo', speculate: true }), /speculate applies to a job with tasks/);
  const two = [{ type: 'echo' }, { type: 'echo' }];
  t.equal(why({ tasks: two, concurrency: 1 }), null);
  t.equal(why({ tasks: two, concurrency: 10_000 }), null);
  t.match(why({ type: 'echo', concurrency: 2 }), /concurrency applies to a job with tasks/);
  t.match(why({ tasks: two, concurrency: 0 }), /^concurrency/);
  t.match(why({ tasks: two, concurrency: 10_001 }), /^concurrency/);
  t.match(why({ tasks: two, concurrency: 1.5 }), /^concurrency/);
});

t.test('custom type names and exec-only fields', async (t) => {
  t.equal(why({ type: 'resize.image', args: ['a.png'], env: { A: '1' }, stdin: 'x' }), null);
  t.match(why({ type: 'Resize' }), /job type is a name/);
  t.match(why({ type: 'resize', cwd: '/tmp' }), /cwd applies to exec only/);
  t.match(why({ type: 'echo', stdin: 'x' }), /stdin applies to exec and worker types/);
  t.match(why({ type: 'exec', args: ['env'], env: { 'BAD-NAME': 'x' } }), /environment names/);
  t.match(why({ type: 'exec', args: ['cat'], stdin: 'x'.repeat(64 * 1024 + 1) }), /64 KiB/);
  t.equal(why({ type: 'exec', args: ['cat'], cwd: '/tmp', env: { A_1: 'v' }, stdin: 'hi' }), null);
});

t.test('delays, schedules and time zones', async (t) => {
  const at = ok({ type: 'echo', runAt: '2030-01-01T00:00:00Z' });
  t.equal(at.success && at.data.runAt, Date.UTC(2030, 0, 1));
  t.match(why({ type: 'echo', runAt: 'tomorrow-ish' }), /ISO-8601/);
  t.match(why({ type: 'echo', runAt: 1, delayMs: 5 }), /delayMs or runAt/);
  t.equal(why({ type: 'echo', cron: '*/5 * * * *', tz: 'Europe/Paris' }), null);
  t.match(why({ type: 'echo', cron: '* * * *' }), /5 fields/);
  t.match(why({ type: 'echo', cron: '61 * * * *' }), /bad cron expression/);
  t.match(why({ type: 'echo', cron: '* * * * *', tz: 'Mars/Olympus' }), /unknown time zone/);
  t.match(why({ type: 'echo', tz: 'UTC' }), /tz applies to cron/);
  t.match(why({ type: 'echo', cron: '* * * * *', delayMs: 5 }), /no delayMs or runAt/);
  t.match(why({ type: 'echo', cron: '* * * * *', key: 'nightly' }), /takes no key/);
});

t.test('keys, dependencies, placement and tenants', async (t) => {
  t.equal(why({ type: 'echo', key: 'k', after: ['01JA0000000000000000000000'] }), null);
  t.match(why({ type: 'echo', after: ['nope'] }), /not a ticket/);
  t.match(why({ type: 'echo', key: '' }), /key/);
  t.equal(why({ type: 'echo', constraints: { labels: ['gpu', 'zone=eu'] } }), null);
  t.match(why({ type: 'echo', constraints: { labels: ['has space'] } }), /labels are/);
  t.match(why({ type: 'echo', resources: { cpu: 0 } }), /resources\.cpu/);
  t.match(why({ type: 'echo', tenant: 'a b' }), /tenant/);
  t.match(why({ type: 'echo', retry: { attempts: 21 } }), /retry\.attempts/);
  t.match(why({ type: 'echo', colour: 'red' }), /colour/);
});

t.test('defaults are filled where a spec leaves them out', async (t) => {
  const spec = JobSpecSchema.parse({ type: 'echo' });
  t.same(retryOf(spec), { attempts: 1, backoffMs: 1000, maxBackoffMs: 60000 });
  t.equal(tenantOf(spec), 'default');
  t.equal(spec.maxAttempts, 3);
  // a parsed spec parses again to itself: every cluster frame re-validates it
  const full = JobSpecSchema.parse({ type: 'exec', args: ['a', 1], runAt: '2030-01-01T00:00:00Z' });
  t.same(JobSpecSchema.parse(full), full);
});

t.test('the client JSON names the new fields only where they apply', async (t) => {
  const v: JobView = {
    ticket: '01JA0000000000000000000000',
    state: 'scheduled',
    attempts: 0,
    submittedAt: 0,
    runAt: Date.UTC(2030, 0, 1),
    tenant: 'default',
    runs: [
      { node: 'n1', attempt: 1, exitCode: 3, error: 'exit code 3', startedAt: 1, finishedAt: 2 },
    ],
  };
  const c = viewToClient(v);
  t.equal(c.runAt, '2030-01-01T00:00:00.000Z');
  t.notOk('tenant' in c, 'the default tenant is not repeated');
  t.same(c.runs, [
    {
      node: 'n1',
      attempt: 1,
      exitCode: 3,
      error: 'exit code 3',
      startedAt: '1970-01-01T00:00:00.001Z',
      finishedAt: '1970-01-01T00:00:00.002Z',
    },
  ]);
});
