import t from 'tap';
import {
  AUTO_VACUUM,
  formatDecision,
  keptFreePages,
  nextReclaimAction,
  RECLAIM_POLICY,
  worthReclaiming,
  type FilePages,
  type ReclaimAction,
  type ReclaimPolicy,
} from '../shared/reclaim-policy.js';

const MiB = 1024 * 1024;
const policy: ReclaimPolicy = {
  stepBytes: MiB / 4,
  checkpointBytes: 16 * MiB,
  minKeepBytes: 4 * MiB,
  keepShare: 0.25,
  convertMaxBytes: 64 * MiB,
};
const page = 4096;
const pagesIn = (bytes: number) => bytes / page;

/** A file of `liveMiB` of data and `freeMiB` of free pages. */
function file(liveMiB: number, freeMiB: number, pageSize = page): FilePages {
  const free = (freeMiB * MiB) / pageSize;
  return { pageSize, pageCount: (liveMiB * MiB) / pageSize + free, freePages: free };
}

/** Plays a reclaim through to its end as the SQLite side would: every vacuum frees its pages. */
function play(start: FilePages, p = policy): { actions: ReclaimAction[]; end: FilePages } {
  let f = { ...start };
  const progress = { uncheckpointed: 0, stalled: false };
  const actions: ReclaimAction[] = [];
  for (;;) {
    const a = nextReclaimAction(f, progress, p);
    actions.push(a);
    if (a.kind === 'done') return { actions, end: f };
    if (a.kind === 'checkpoint') progress.uncheckpointed = 0;
    else {
      f = { ...f, pageCount: f.pageCount - a.pages, freePages: f.freePages - a.pages };
      progress.uncheckpointed += a.pages;
    }
    if (actions.length > 100_000) throw new Error('never ends');
  }
}

t.test('the product policy is the one these tests reason about', (t) => {
  t.same({ ...RECLAIM_POLICY }, policy);
  t.ok(Object.isFrozen(RECLAIM_POLICY));
  t.end();
});

t.test('a file keeps 4 MiB free, or a quarter of its live data if more', (t) => {
  t.equal(keptFreePages(file(1, 100), policy), pagesIn(4 * MiB));
  t.equal(keptFreePages(file(400, 100), policy), pagesIn(100 * MiB));
  t.equal(keptFreePages(file(1, 100, 16_384), policy), (4 * MiB) / 16_384, 'counted in its pages');
  t.end();
});

t.test('a reclaim starts only past twice the free space a file keeps', (t) => {
  t.notOk(worthReclaiming(file(1, 8), policy), '8 MiB free over little data: not worth it');
  t.ok(worthReclaiming(file(1, 9), policy));
  t.ok(worthReclaiming(file(1, 2000), policy), 'after a burst');
  // steady use: each sweep frees what the next minutes fill again, and the file is left be
  t.notOk(worthReclaiming(file(400, 180), policy));
  t.ok(worthReclaiming(file(400, 220), policy));
  t.end();
});

t.test('after a burst: 256 KiB a step, a checkpoint every 16 MiB, down to what is kept', (t) => {
  const { actions, end } = play(file(2, 100));
  const vacuums = actions.filter((a) => a.kind === 'vacuum');
  t.equal(end.freePages, pagesIn(4 * MiB), 'the kept free space stays');
  t.equal(end.pageCount, pagesIn(6 * MiB));
  t.ok(
    vacuums.every((a) => a.pages <= pagesIn(MiB / 4)),
    'no step frees more than 256 KiB',
  );
  t.equal(vacuums.length, 96 * 4);
  let since = 0;
  for (const a of actions) {
    if (a.kind === 'vacuum') since += a.pages;
    else {
      t.ok(since * page <= 16 * MiB, 'at most 16 MiB cut per checkpoint');
      since = 0;
    }
  }
  t.same(actions.slice(-2), [{ kind: 'checkpoint' }, { kind: 'done' }], 'the last cut, then done');
  t.end();
});

t.test('the last step frees only what exceeds the kept space', (t) => {
  const f = file(1, 4.125);
  t.same(nextReclaimAction(f, { uncheckpointed: 0, stalled: false }, policy), {
    kind: 'vacuum',
    pages: pagesIn(0.125 * MiB),
  });
  t.end();
});

t.test('a vacuum that freed nothing ends the reclaim, after a checkpoint if one is owed', (t) => {
  const f = file(1, 100);
  t.same(nextReclaimAction(f, { uncheckpointed: 10, stalled: true }, policy), {
    kind: 'checkpoint',
  });
  t.same(nextReclaimAction(f, { uncheckpointed: 0, stalled: true }, policy), { kind: 'done' });
  t.end();
});

t.test('nothing to free, nothing owed: done at once', (t) => {
  t.same(nextReclaimAction(file(10, 1), { uncheckpointed: 0, stalled: false }, policy), {
    kind: 'done',
  });
  t.end();
});

t.test('pages larger than a step still free one at a time', (t) => {
  const big = { ...policy, stepBytes: 1000 };
  t.same(nextReclaimAction(file(1, 100), { uncheckpointed: 0, stalled: false }, big), {
    kind: 'vacuum',
    pages: 1,
  });
  t.end();
});

t.test('an old file is converted at start when small and the disk has room', (t) => {
  const old = (liveMiB: number, diskFreeMiB: number, autoVacuum: number = AUTO_VACUUM.none) => ({
    ...file(liveMiB, 10),
    autoVacuum,
    diskFreeBytes: diskFreeMiB * MiB,
  });
  t.same(formatDecision(old(10, 1000), policy), { kind: 'convert' });
  t.same(formatDecision(old(64, 1000), policy), { kind: 'convert' }, 'up to 64 MiB of data');
  t.same(formatDecision(old(65, 1000), policy), { kind: 'too-large', liveBytes: 65 * MiB });
  t.same(
    formatDecision(old(10, 20), policy),
    { kind: 'no-space', liveBytes: 10 * MiB, diskFreeBytes: 20 * MiB },
    'a copy and the WAL need twice the data',
  );
  t.same(formatDecision(old(10, 1000, AUTO_VACUUM.incremental), policy), { kind: 'keep' });
  t.same(formatDecision(old(100, 0, AUTO_VACUUM.full), policy), { kind: 'keep' });
  t.end();
});
