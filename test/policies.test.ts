import t from 'tap';
import { createPolicy, type Candidate, type PolicyName } from '../proxy/policies.js';

function node(id: string, slots: number, outstanding = 0): Candidate {
  return { id, slots, outstanding, heapIndex: -1, poolIndex: -1, lastPick: 0 };
}

/** A seeded PRNG so random policies are repeatable. */
function rand(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Places `jobs` one at a time the way the dispatcher does: room is slots + prefetch. */
function place(name: PolicyName, nodes: Candidate[], jobs: number, prefetch = 1): Candidate[] {
  const p = createPolicy(name, rand(42));
  const room = (c: Candidate) => c.outstanding < c.slots + prefetch;
  for (const n of nodes) if (room(n)) p.add(n);
  const placed: Candidate[] = [];
  while (placed.length < jobs) {
    const picks = p.pickBatch ? p.pickBatch(1, room) : [p.pick()].filter((c) => c !== undefined);
    const c = picks[0];
    if (!c) break;
    c.outstanding++;
    placed.push(c);
    if (room(c)) p.update(c);
    else p.remove(c);
  }
  return placed;
}

t.test('least-loaded keeps (queued + running) / slots level', async (t) => {
  const nodes = [node('a', 2), node('b', 4), node('c', 2, 2)];
  place('least-loaded', nodes, 6);
  t.same(
    nodes.map((n) => n.outstanding),
    [2, 4, 2],
    'each node at the same load ratio',
  );
  const more = place('least-loaded', nodes, 100);
  t.equal(more.length, 3, 'then only up to slots + PREFETCH each');
  t.same(
    nodes.map((n) => n.outstanding),
    [3, 5, 3],
  );
});

t.test('least-loaded breaks ties fairly', async (t) => {
  const nodes = [node('a', 1), node('b', 1), node('c', 1)];
  const order = place('least-loaded', nodes, 3, 0).map((n) => n.id);
  t.same(new Set(order).size, 3, 'three equal nodes each get one job');
});

for (const name of ['power-of-two', 'batch-sampling', 'round-robin', 'random'] as const) {
  t.test(`${name} places only on nodes with room and fills the cluster`, async (t) => {
    const nodes = [node('a', 2), node('b', 2), node('c', 2)];
    const placed = place(name, nodes, 100);
    t.equal(placed.length, 9, 'stops when every node is at slots + PREFETCH');
    t.same(
      nodes.map((n) => n.outstanding),
      [3, 3, 3],
    );
  });
}

t.test('a removed node is never picked', async (t) => {
  for (const name of [
    'least-loaded',
    'power-of-two',
    'batch-sampling',
    'round-robin',
    'random',
  ] as const) {
    const p = createPolicy(name, rand(7));
    const a = node('a', 1);
    const b = node('b', 1);
    p.add(a);
    p.add(b);
    p.remove(a);
    for (let i = 0; i < 20; i++) t.equal(p.pick()?.id, 'b', `${name} picks only b`);
    p.remove(b);
    t.equal(p.pick(), undefined, `${name} has nobody left`);
  }
});
