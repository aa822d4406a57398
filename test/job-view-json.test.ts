import t from 'tap';
import { newTicket } from '../shared/ids.js';
import { CLIENT_STATES, TERMINAL_STATES, type JobSpec } from '../shared/job.js';
import {
  resultJson,
  runOfResult,
  viewToClient,
  viewToClientJson,
  type JobResult,
  type JobView,
  type RunView,
} from '../shared/job-view.js';
import { jsonNumber, jsonString, specJson } from '../shared/wire-text.js';
import { pendingView, resultOf, viewOfResult } from '../node/results.js';

// The client JSON and a result's JSON are written by hand; each must be the text the generic
// `JSON.stringify` gives for the same value, over every shape a job's spec and result take.

/** A small deterministic generator, so a failure names a case that comes back. */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  return { next, pick, maybe: () => next() < 0.5 };
}

const texts = [
  '',
  'x',
  'x\n',
  'hello world',
  'say "hi"',
  'back\\slash',
  'line one\nline two\r\n\ttab',
  'é ✓ 日本 🚀',
  '\u0000\u0001\u001f control',
  'del \u007f',
  'lone \ud800 surrogate',
  '</script>',
  'a'.repeat(70),
  `${'q"'.repeat(40)}`,
];
const now = 1_764_540_000_000;
const times = [now, now + 1, now + 9, now + 10, now + 99, now + 100, now + 999, now + 1000];
const exitCodes = [0, 1, 2, 127, 255, -1, null];
const errors = [null, '', 'exit code 1', 'timed out after 5 ms', 'boom "x"\nsecond line ✗'];
const nodes = [null, 'n1', 'bench-3', 'node-é'];

function specOf(r: ReturnType<typeof rng>): JobSpec {
  const spec: JobSpec = {
    type: r.pick(['echo', 'sleep', 'exec', 'my-type']),
    args: r.maybe() ? [] : [r.pick(texts), r.pick(texts)],
    priority: r.pick([0, 5, -3]),
    maxAttempts: r.pick([1, 3]),
  };
  if (r.maybe()) spec.tenant = r.pick(['default', 'team-a', 'x.y_z-1']);
  if (r.maybe()) spec.key = r.pick(texts);
  const when = r.next();
  if (when < 0.3) spec.runAt = r.pick(times);
  else if (when < 0.5) spec.delayMs = r.pick([0, 5, 60_000]);
  if (r.next() < 0.3) spec.after = [newTicket(now), newTicket(now + 1)];
  if (r.next() < 0.3) {
    spec.cron = r.pick(['*/5 * * * *', '0 3 * * 1']);
    if (r.maybe()) spec.tz = r.pick(['UTC', 'Europe/Paris']);
  }
  return spec;
}

function runsOf(r: ReturnType<typeof rng>, result: JobResult): RunView[] | undefined {
  const kind = r.next();
  if (kind < 0.2) return undefined;
  if (kind < 0.6) return [runOfResult(result)];
  const runs: RunView[] = [];
  const n = Math.floor(r.next() * 4);
  for (let i = 0; i < n; i++) {
    if (r.maybe()) {
      // a schedule's firing: its ticket and state
      runs.push({ ticket: newTicket(now + i), state: r.pick(CLIENT_STATES) });
    } else {
      runs.push({
        node: r.pick(nodes),
        attempt: i + 1,
        exitCode: r.pick(exitCodes),
        error: r.pick(errors),
        startedAt: r.maybe() ? null : r.pick(times),
        finishedAt: r.pick(times),
      });
    }
  }
  return runs;
}

function resultFor(r: ReturnType<typeof rng>, id: string): JobResult {
  const startedAt = r.next() < 0.2 ? null : r.pick(times);
  const outcome = {
    state: r.pick(TERMINAL_STATES),
    exitCode: r.pick(exitCodes),
    output: r.pick(texts),
    error: r.pick(errors),
  };
  const result = resultOf(
    id,
    r.pick(nodes) ?? 'n1',
    r.pick([0, 1, 2, 7]),
    outcome,
    startedAt,
    r.pick(times),
  );
  if (r.next() < 0.2) result.node = null;
  const runs = runsOf(r, result);
  if (runs) result.runs = runs;
  if (r.next() < 0.2) {
    result.tasks = [
      { index: 0, state: 'done', exitCode: 0, node: 'n1', output: r.pick(texts) },
      { index: 1, state: 'failed', exitCode: 1, error: r.pick(errors), node: null },
    ];
    result.progress = { total: 2, done: 1, failed: 1, running: 0 };
  }
  return result;
}

t.test('a finished job as WAIT shows it is the JSON of its client object', (t) => {
  const r = rng(1);
  for (let i = 0; i < 3000; i++) {
    const id = newTicket(now + i);
    const spec = specOf(r);
    const submittedAt = r.pick(times);
    const view = viewOfResult(id, spec, submittedAt, resultFor(r, id));
    const want = JSON.stringify(viewToClient(view));
    if (viewToClientJson(view) !== want) {
      t.equal(viewToClientJson(view), want, `case ${i}`);
      break;
    }
  }
  t.pass('3000 results, specs and runs');
  t.end();
});

t.test('views not finished yet, and what only the proxy tells, read the same', (t) => {
  const r = rng(2);
  const extra = (v: JobView): JobView => {
    const out: JobView = { ...v };
    if (r.maybe()) out.next = r.maybe() ? null : r.pick(times);
    if (r.maybe()) out.waiting = r.pick(['no node has the labels gpu', 'at the tenant cap', '']);
    if (r.maybe()) out.state = r.pick(CLIENT_STATES);
    if (r.next() < 0.2) out.output = r.pick(texts); // shown only once the state is terminal
    return out;
  };
  for (let i = 0; i < 3000; i++) {
    const id = newTicket(now + i);
    const spec = specOf(r);
    const state = r.pick(['accepted', 'forwarded', 'done'] as const);
    const view = extra(pendingView(id, spec, r.pick(times), state));
    const want = JSON.stringify(viewToClient(view));
    if (viewToClientJson(view) !== want) {
      t.equal(viewToClientJson(view), want, `case ${i}`);
      break;
    }
  }
  // a view as the proxy may send it, with fields it never fills left out
  const bare = { ticket: newTicket(now), state: 'running', attempts: 0, submittedAt: now };
  t.equal(viewToClientJson(bare as JobView), JSON.stringify(viewToClient(bare as JobView)));
  t.pass('3000 pending views');
  t.end();
});

t.test("a result's JSON is the generic one, and reads back as the same result", (t) => {
  const r = rng(3);
  for (let i = 0; i < 3000; i++) {
    const result = resultFor(r, newTicket(now + i));
    if (resultJson(result) !== JSON.stringify(result)) {
      t.equal(resultJson(result), JSON.stringify(result), `case ${i}`);
      break;
    }
  }
  // members in another order (a result read from elsewhere): the same value
  const result = resultFor(rng(4), newTicket(now));
  const reordered = Object.fromEntries(Object.entries(result).reverse()) as JobResult;
  t.same(JSON.parse(resultJson(reordered)), result);
  t.pass('3000 results');
  t.end();
});

t.test('numbers and strings are written as JSON.stringify writes them', (t) => {
  const numbers = [
    0,
    -0,
    1,
    -1,
    0.5,
    1e12 - 1,
    1e12,
    now,
    now + 7,
    now + 42,
    now + 999,
    1e15 - 1,
    1e15,
    1e21,
    -now,
    now + 0.5,
    NaN,
    Infinity,
    -Infinity,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const n of numbers) t.equal(jsonNumber(n), JSON.stringify(n), `number ${n}`);
  // the cached second moves on
  for (let ms = now - 2500; ms < now + 2500; ms += 7) t.equal(jsonNumber(ms), String(ms));
  for (const s of [...texts, newTicket(now), 'a'.repeat(63), 'a'.repeat(64), '"', '\\']) {
    t.equal(jsonString(s), JSON.stringify(s), `string ${JSON.stringify(s)}`);
  }
  t.end();
});

t.test("a spec's JSON is the generic one, plain or not", (t) => {
  const r = rng(5);
  const plain = (args: string[]): JobSpec => ({ type: 'echo', args, priority: 0, maxAttempts: 1 });
  const specs: JobSpec[] = [
    plain([]),
    plain(['x']),
    ...texts.map((a) => plain([a, a])),
    { type: 'exec', args: ['sh', '-c', 'echo "hi"; exit 3'], priority: -2, maxAttempts: 3 },
    // members in another order, or more of them: the generic walk, the same text
    { args: ['x'], type: 'echo', priority: 0, maxAttempts: 1 },
    { type: 'echo', args: ['x'], priority: 0, maxAttempts: 1, tenant: 'team-a' },
    { type: 'echo', args: [1 as unknown as string], priority: 0, maxAttempts: 1 },
  ];
  for (let i = 0; i < 1000; i++) specs.push(specOf(r));
  for (const spec of specs) {
    if (specJson(spec) !== JSON.stringify(spec)) {
      t.equal(specJson(spec), JSON.stringify(spec));
      break;
    }
  }
  t.pass(`${specs.length} specs`);
  t.end();
});
