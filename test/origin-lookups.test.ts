import t from 'tap';
import type { JobView } from '../shared/job-view.js';
import { OriginLookups } from '../proxy/origin-lookups.js';

const view = (ticket: string): JobView => ({ ticket, state: 'done' }) as JobView;

t.test('a lookup asks every node and ends when all answered', async (t) => {
  const l = new OriginLookups(10_000);
  const asked: Array<[string, number]> = [];
  let got: JobView[] | undefined;
  let complete: boolean | undefined;
  l.ask(
    ['a', 'b'],
    (node, reqId) => asked.push([node, reqId]),
    (v, c) => ((got = v), (complete = c)),
  );
  t.equal(asked.length, 2);
  const reqId = asked[0]![1];
  l.answered('a', reqId, []);
  t.equal(got, undefined, 'still waiting for b');
  l.answered('c', reqId, [view('X')]);
  t.equal(got, undefined, 'a node not asked is not counted');
  l.answered('b', reqId, [view('T')]);
  t.same(
    got?.map((v) => v.ticket),
    ['T'],
    'the origin’s view',
  );
  t.equal(complete, true, 'every node answered');
  l.answered('b', reqId, [view('U')]);
  t.same(
    got?.map((v) => v.ticket),
    ['T'],
    'done once',
  );
});

t.test('a node leaving or the deadline ends a lookup with what came, incomplete', async (t) => {
  const l = new OriginLookups(30);
  let ids: number[] = [];
  let left: [JobView[], boolean] | undefined;
  l.ask(
    ['a', 'b', 'c'],
    (_, reqId) => ids.push(reqId),
    (v, c) => (left = [v, c]),
  );
  l.answered('a', ids[0]!, [view('A')]);
  l.gone('b');
  t.same(
    left?.[0].map((v) => v.ticket),
    ['A'],
  );
  t.equal(left?.[1], false, 'b may have been the origin');
  ids = [];
  // the lookup's own timer does not hold the process open; this one does
  const hold = setTimeout(() => {}, 5000);
  const late = await new Promise<[JobView[], boolean]>((resolve) =>
    l.ask(
      ['a'],
      (_, r) => ids.push(r),
      (v, c) => resolve([v, c]),
    ),
  );
  clearTimeout(hold);
  t.same(late, [[], false], 'nobody answered in time');
  let none: [JobView[], boolean] | undefined;
  l.ask(
    [],
    () => t.fail('no node to ask'),
    (v, c) => (none = [v, c]),
  );
  t.same(none, [[], true], 'no other node: at once, and complete');
});
