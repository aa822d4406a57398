import t from 'tap';
import { Executor } from '../node/executor.js';
import type { RunOutcome } from '../node/job-runner.js';
import { JobSpecSchema } from '../shared/job.js';

function executor(slots: number) {
  const seen: string[] = [];
  const logs: string[] = [];
  const finished = new Map<string, RunOutcome>();
  const ex = new Executor(
    slots,
    { execAllow: [], outputLimit: 1024 },
    {
      started: (id) => seen.push(`started ${id}`),
      log: (id) => {
        logs.push(id);
        return undefined;
      },
      finished: (id, o) => {
        seen.push(`finished ${id}`);
        finished.set(id, o);
      },
      lost: () => {},
      typesChanged: () => {},
    },
  );
  return { ex, seen, logs, finished };
}

t.test('an echo ends inside enqueue: it never holds a slot, and has no log', async (t) => {
  const { ex, seen, logs, finished } = executor(2);
  for (let i = 0; i < 5; i++) {
    ex.enqueue(`e${i}`, JobSpecSchema.parse({ type: 'echo', args: [`hi ${i}`] }));
    t.equal(finished.get(`e${i}`)?.output, `hi ${i}`, `e${i} ended before enqueue returned`);
    t.equal(ex.free, 2);
    t.equal(ex.running, 0);
  }
  t.same(seen.slice(0, 4), ['started e0', 'finished e0', 'started e1', 'finished e1']);
  t.same(logs, [], 'no log for a run that cannot print');
  t.notOk(ex.has('e0'));
});

t.test('an echo behind a busy slot waits its turn, then ends at once', async (t) => {
  const { ex, seen, logs, finished } = executor(1);
  ex.enqueue('s', JobSpecSchema.parse({ type: 'sleep', args: ['20'] }));
  ex.enqueue('e', JobSpecSchema.parse({ type: 'echo', args: ['x'] }));
  t.equal(ex.queued, 1, 'the echo waits for the slot the sleep holds');
  t.same(logs, ['s'], 'the sleep has its log');
  await ex.idle();
  t.same(seen, ['started s', 'finished s', 'started e', 'finished e']);
  t.equal(finished.get('e')?.state, 'done');
  t.equal(ex.queued, 0);
});
