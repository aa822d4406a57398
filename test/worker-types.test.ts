import t from 'tap';
import {
  isCustomJob,
  KnownTypes,
  TypedQueue,
  waitingReason,
  type TypedJob,
  type TypedSeat,
} from '../proxy/worker-types.js';

interface J extends TypedJob {
  id: string;
}
interface N extends TypedSeat {
  typeLoad: Map<string, number>;
  workers: Map<string, number>;
  conn: unknown;
  draining: boolean;
}
const job = (id: string, type: string, seq: number, priority = 0): J => ({
  id,
  seq,
  spec: { type, priority },
  heapIndex: -1,
});
const node = (id: string, workers: Record<string, number>): N => ({
  id,
  conn: {},
  draining: false,
  workers: new Map(Object.entries(workers)),
  typeLoad: new Map(),
});

function run(q: TypedQueue<J, N>, nodes: N[], prefetch = 0, budget = Infinity) {
  const placed: string[] = [];
  q.run(nodes, prefetch, budget, (j, n) => {
    n.typeLoad.set(j.spec.type as string, (n.typeLoad.get(j.spec.type as string) ?? 0) + 1);
    placed.push(`${j.id}@${n.id}`);
  });
  return placed;
}

t.test('custom types are the non-built-in ones', async (t) => {
  t.ok(isCustomJob({ type: 'resize' }));
  t.notOk(isCustomJob({ type: 'exec' }));
  t.notOk(isCustomJob({}));
});

t.test('placed only on nodes serving the type, least loaded by capacity', async (t) => {
  const q = new TypedQueue<J, N>();
  const a = node('a', { resize: 1 });
  const b = node('b', { resize: 3 });
  const c = node('c', { ocr: 5 });
  for (let i = 0; i < 5; i++) q.enqueue(job(`r${i}`, 'resize', i));
  q.enqueue(job('o', 'ocr', 9));
  q.enqueue(job('z', 'zip', 10));
  const placed = run(q, [a, b, c]);
  t.equal(placed.filter((p) => p.endsWith('@a')).length, 1, 'a holds its capacity of one');
  t.equal(placed.filter((p) => p.endsWith('@b') && p.startsWith('r')).length, 3);
  t.ok(placed.includes('o@c'));
  t.equal(q.size, 2, 'one resize over capacity and the zip nobody serves wait');
  t.same(run(q, [a, b, c], 1), ['r4@a'], 'PREFETCH lets one more in, to the least loaded');
  t.equal(waitingReason('zip', [a, b, c]), 'no worker for type zip');
  t.equal(waitingReason('resize', [a, b, c]), undefined);
  b.draining = true;
  a.conn = undefined;
  t.equal(waitingReason('resize', [a, b]), 'no worker for type resize', 'gone or draining');
});

t.test('equal loads rotate; priority first; remove and budget', async (t) => {
  const q = new TypedQueue<J, N>();
  const a = node('a', { t: 10 });
  const b = node('b', { t: 10 });
  const low = job('low', 't', 1);
  q.enqueue(low);
  q.enqueue(job('high', 't', 2, 5));
  q.enqueue(job('x', 't', 3));
  t.ok(q.remove(low));
  t.notOk(q.remove(low));
  const placed = run(q, [a, b], 0, 1);
  t.same(placed, ['high@a']);
  t.same(run(q, [a, b]), ['x@b']);
});

t.test('known types are listed once stored', async (t) => {
  const k = new KnownTypes(['b']);
  t.same(k.add(['a', 'b']), ['a']);
  t.same(k.add(['a']), [], 'noted once');
  t.same(k.list(), ['b'], 'not listed before it is stored');
  k.confirm(['a']);
  t.same(k.list(), ['a', 'b']);
  k.forget(['c']);
  t.same(k.add(['c']), ['c']);
  k.forget(['c']);
  t.same(k.add(['c']), ['c'], 'a failed store lets it be noted again');
});

t.test(
  'labels asked for: only nodes that have them; a class that cannot run blocks no other',
  async (t) => {
    const q = new TypedQueue<J, N>();
    const a = node('a', { infer: 5 });
    const b = node('b', { infer: 5 });
    const labels: Record<string, Set<string>> = { a: new Set(), b: new Set(['gpu', 'zone=eu']) };
    const nodeLabels = (id: string) => labels[id] ?? new Set<string>();
    const withLabels = (id: string, seq: number, l: string[]): J => ({
      id,
      seq,
      spec: { type: 'infer', priority: 0, constraints: { labels: l } },
      heapIndex: -1,
    });
    q.enqueue(withLabels('tpu', 1, ['tpu']));
    q.enqueue(withLabels('g1', 2, ['gpu']));
    q.enqueue(withLabels('g2', 3, ['zone=eu', 'gpu']));
    q.enqueue(job('any', 'infer', 4));
    const placed: string[] = [];
    q.run(
      [a, b],
      0,
      Infinity,
      (j, n) => {
        n.typeLoad.set('infer', (n.typeLoad.get('infer') ?? 0) + 1);
        placed.push(`${j.id}@${n.id}`);
      },
      nodeLabels,
    );
    t.ok(placed.includes('g1@b') && placed.includes('g2@b'), 'gpu jobs on the gpu node');
    t.ok(
      placed.some((p) => p.startsWith('any@')),
      'the unlabelled job placed',
    );
    t.notOk(
      placed.some((p) => p.startsWith('tpu')),
      'no node has tpu',
    );
    t.equal(q.size, 1);
    t.equal(
      waitingReason('infer', [a, b], ['tpu'], nodeLabels),
      'no node with a worker for type infer has labels tpu',
    );
    t.equal(waitingReason('infer', [a, b], ['gpu'], nodeLabels), undefined);
  },
);
