import t from 'tap';
import type { JobView } from '../shared/job-view.js';
import { OriginLookups } from '../proxy/origin-lookups.js';

const view = (ticket: string): JobView => ({ ticket, state: 'done' }) as JobView;

t.test('a lookup asks every node and ends when all answered', async (t) => {
  const l = new OriginLookups(10_000);
  const asked: Array<[string, number]> = [];
  let got: JobView[] | undefined;
  l.ask(
    ['a', 'b'],
    (node, reqId) => asked.push([node, reqId]),
    (v) => (got = v),
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
  l.answered('b', reqId, [view('U')]);
  t.same(
    got?.map((v) => v.ticket),
    ['T'],
    'done once',
  );
});

t.test('a node leaving or the deadline ends a lookup with what came', async (t) => {
  const l = new OriginLookups(30);
  let ids: number[] = [];
  let left: JobView[] | undefined;
  l.ask(
    ['a', 'b'],
    (_, reqId) => ids.push(reqId),
    (v) => (left = v),
  );
  l.answered('a', ids[0]!, [view('A')]);
  l.gone('b');
  t.same(
    left?.map((v) => v.ticket),
    ['A'],
  );
  ids = [];
  // the lookup's own timer does not hold the process open; this one does
  const hold = setTimeout(() => {}, 5000);
  const late = await new Promise<JobView[]>((resolve) =>
    l.ask(['a'], (_, r) => ids.push(r), resolve),
  );
  clearTimeout(hold);
  t.same(late, [], 'nobody answered in time');
  let none: JobView[] | undefined;
  l.ask(
    [],
    () => t.fail('no node to ask'),
    (v) => (none = v),
  );
  t.same(none, [], 'no other node: at once');
});
