import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { fastFrame } from '../shared/fast-frames.js';
import { newTicket } from '../shared/ids.js';
import { FrameSchema, parseFrame } from '../shared/protocol.js';

const now = 1_760_000_000_000;
const a = newTicket(now);
const b = newTicket(now);
const result = {
  id: a,
  state: 'done',
  exitCode: 0,
  output: 'x',
  error: null,
  node: 'n-1',
  attempt: 1,
  startedAt: now,
  finishedAt: now + 1,
};
const wireJob = {
  id: b,
  spec: { type: 'echo', args: ['x', 'y'], priority: 0, maxAttempts: 3 },
  origin: 'n-2',
  submittedAt: now,
};

/** The hot frames in their common shapes: the fast path must take every one of them. */
const COMMON: Record<string, unknown>[] = [
  { type: 'ACK', jobs: [a, b], results: [] },
  { type: 'ACK', results: [a] },
  { type: 'ACK', jobs: [], results: [], reopened: [b] },
  { type: 'RESULT', results: [result, { ...result, id: b, state: 'failed', exitCode: null }] },
  { type: 'INFO', queued: 0, running: 2, free: 2, started: [{ id: a, at: now }] },
  { type: 'INFO', queued: 1, running: 0, free: -1, draining: true },
  { type: 'JOB', jobs: [wireJob] },
  // started at the origin (LOCAL_START): its placement, then its result with its run
  { type: 'JOB', jobs: [{ ...wireJob, startedHere: true }] },
  {
    type: 'JOB',
    jobs: [
      {
        ...wireJob,
        result: {
          ...result,
          id: b,
          runs: [
            {
              node: 'n-1',
              attempt: 1,
              exitCode: 0,
              error: null,
              startedAt: now,
              finishedAt: now + 1,
            },
          ],
        },
      },
    ],
  },
  {
    type: 'JOB',
    jobs: [
      {
        ...wireJob,
        attempt: 2,
        spec: {
          type: 'exec',
          args: ['ls', '-l'],
          priority: -5,
          maxAttempts: 1,
          timeoutMs: 100,
          tenant: 't.1',
        },
      },
      { ...wireJob, spec: { type: 'resize.image', args: [], priority: 1000, maxAttempts: 10 } },
    ],
  },
];

/** Values a field may be replaced with: each wrong somewhere, right somewhere else. */
const ODD: unknown[] = [
  null,
  '',
  'x',
  'sleep',
  'exec',
  'Echo',
  -1,
  0,
  1.5,
  1001,
  2 ** 53,
  true,
  [],
  [''],
  ['x', 1],
  [1],
  {},
  { id: a, at: 1 },
  a.toLowerCase(),
  'x'.repeat(16 * 1024 + 1),
  'n_1.ok',
  '-bad',
];

/** Every frame one change away from `frame`: a field dropped, replaced, or a new one added. */
function* mutations(frame: unknown, path: (string | number)[] = []): Generator<unknown> {
  if (Array.isArray(frame)) {
    for (let i = 0; i < frame.length; i++) {
      for (const m of mutations(frame[i], [...path, i])) {
        yield frame.map((x, j) => (j === i ? m : x));
      }
    }
    yield [];
    yield [...frame, ...frame];
    return;
  }
  if (typeof frame !== 'object' || frame === null) {
    yield* ODD;
    return;
  }
  const o = frame as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const { [k]: _dropped, ...rest } = o;
    yield rest;
    for (const m of mutations(o[k], [...path, k])) yield { ...o, [k]: m };
  }
  for (const extra of ['epoch', 'workers', 'runs', 'tasks', 'env', 'result', 'unknown']) {
    if (!(extra in o)) yield { ...o, [extra]: extra === 'epoch' ? 3 : [] };
  }
}

t.test('the hot frames in their common shapes are taken by the fast path', async (t) => {
  for (const frame of COMMON) {
    t.ok(fastFrame(structuredClone(frame)), `${JSON.stringify(frame).slice(0, 60)}`);
  }
});

t.test('the fast path accepts only what the schema accepts, and parses it the same', async (t) => {
  let fast = 0;
  let checked = 0;
  const disagreements: string[] = [];
  for (const frame of COMMON) {
    for (const m of mutations(frame)) {
      const text = JSON.stringify(m);
      const mine = fastFrame(JSON.parse(text));
      const schema = FrameSchema.safeParse(JSON.parse(text));
      checked++;
      if (mine === undefined) continue;
      fast++;
      if (!schema.success) disagreements.push(`refused by the schema: ${text.slice(0, 200)}`);
      else if (!isDeepStrictEqual(mine, schema.data)) {
        disagreements.push(`parsed otherwise: ${text.slice(0, 200)}`);
      }
    }
  }
  t.same(disagreements, []);
  t.ok(checked > 1000, `${checked} frames compared`);
  t.ok(fast > 100, `${fast} of them taken by the fast path`);
});

t.test('keys named like Object.prototype members go to the schema', async (t) => {
  const text = `{"type":"ACK","jobs":[],"__proto__":[],"constructor":[]}`;
  t.equal(fastFrame(JSON.parse(text)), undefined);
  t.notOk(parseFrame(text).ok);
  t.equal(fastFrame(JSON.parse(`{"type":"toString"}`)), undefined);
});

t.test('parseFrame fills the lists a frame leaves out, on either path', async (t) => {
  const fast = parseFrame(JSON.stringify({ type: 'ACK', results: [a] }));
  t.same(fast.ok && fast.frame, { type: 'ACK', jobs: [], results: [a], reopened: [] });
  const slow = parseFrame(JSON.stringify({ type: 'ACK', results: [a], epoch: 2 }));
  t.same(slow.ok && slow.frame, { type: 'ACK', jobs: [], results: [a], reopened: [], epoch: 2 });
  const info = parseFrame(JSON.stringify({ type: 'INFO', queued: 0, running: 0, free: 1 }));
  t.same(info.ok && info.frame, { type: 'INFO', queued: 0, running: 0, free: 1, started: [] });
});
