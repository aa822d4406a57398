import t from 'tap';
import { FrameBatcher } from '../shared/batcher.js';
import { newTicket } from '../shared/ids.js';
import type { JobSpec } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import { MAX_BATCH, parseFrame, type FrameIn } from '../shared/protocol.js';
import { resultJson, specJson, type JobTexts } from '../proxy/job-text.js';
import { wireJobJson } from '../shared/wire-text.js';

const now = 1_760_000_000_000;
const spec: JobSpec = { type: 'echo', args: ['a "quoted"', 'é\n'], priority: 0, maxAttempts: 3 };
const result = (id: string): JobResult => ({
  id,
  state: 'done',
  exitCode: 0,
  output: 'line "one"\nline two ✓',
  error: null,
  node: 'n-1',
  attempt: 1,
  startedAt: now,
  finishedAt: now + 5,
  runs: [
    { node: 'n-1', attempt: 1, exitCode: 0, error: null, startedAt: now, finishedAt: now + 5 },
  ],
});

t.test('a dispatch made around the spec text is the JSON of the same dispatch', (t) => {
  const job = { id: newTicket(now), origin: 'node-7', submittedAt: now, attempt: 2 };
  const text = wireJobJson(job, JSON.stringify(spec), { attempt: job.attempt });
  t.same(JSON.parse(text), { ...job, spec });
  t.equal(
    text,
    JSON.stringify({ id: job.id, spec, origin: job.origin, submittedAt: now, attempt: 2 }),
  );
  t.end();
});

t.test('texts are made once and remade when the result is replaced', (t) => {
  const j: JobTexts = { spec, result: null };
  t.equal(specJson(j), JSON.stringify(spec));
  t.equal(specJson(j), j.specJson, 'kept');
  t.equal(resultJson(j), 'null');
  const first = result(newTicket(now));
  j.result = first;
  t.equal(resultJson(j), JSON.stringify(first));
  const again = resultJson(j);
  t.equal(again, JSON.stringify(first), 'the same text while the result is the same object');
  const second = { ...first, state: 'failed' as const, exitCode: 1 };
  j.result = second;
  t.equal(resultJson(j), JSON.stringify(second), 'a new result is encoded anew');
  t.end();
});

t.test('a result as a frame brings it, members in any order, is stored as the same value', (t) => {
  const r = result(newTicket(now));
  const reversed = Object.fromEntries(Object.entries(r).reverse());
  const reordered = JSON.parse(JSON.stringify(reversed)) as JobResult;
  t.not(Object.keys(reordered)[0], 'id', 'its members came in another order');
  const j: JobTexts = { spec: JSON.parse(JSON.stringify(spec)) as JobSpec, result: reordered };
  t.same(JSON.parse(resultJson(j)), r);
  t.equal(resultJson(j), JSON.stringify(r), 'written in the schema order');
  t.equal(specJson(j), JSON.stringify(spec));
  t.end();
});

t.test('frames of texts are the frames of the objects, split at MAX_BATCH', (t) => {
  const sent: string[] = [];
  const frames: FrameIn[] = [];
  const b = new FrameBatcher(
    (f) => frames.push(f),
    undefined,
    (text) => sent.push(text),
  );
  const ids = Array.from({ length: MAX_BATCH + 3 }, () => newTicket(now));
  const jobs = ids.map((id) => ({ id, spec, origin: 'o-1', submittedAt: now, attempt: 1 }));
  for (const j of jobs)
    b.jobText(wireJobJson(j, specJson({ spec, result: null }), { attempt: j.attempt }));
  b.resultText(JSON.stringify(result(ids[0] as string)));
  b.ackJob(ids[1] as string);
  t.ok(b.waiting);
  b.flush();
  t.notOk(b.waiting, 'nothing left after a flush');
  t.equal(sent.length, 3, 'two JOB frames, one RESULT frame');
  const parsed = sent.map((s) => parseFrame(s));
  for (const p of parsed) t.ok(p.ok, 'each frame is valid');
  t.same(JSON.parse(sent[0] as string), { type: 'JOB', jobs: jobs.slice(0, MAX_BATCH) });
  t.same(JSON.parse(sent[1] as string), { type: 'JOB', jobs: jobs.slice(MAX_BATCH) });
  t.same(JSON.parse(sent[2] as string), { type: 'RESULT', results: [result(ids[0] as string)] });
  t.same(frames, [{ type: 'ACK', jobs: [ids[1]], results: [] }], 'the rest go as objects');
  t.end();
});

t.test('without a text sender, texts go as objects (the node side)', (t) => {
  const frames: FrameIn[] = [];
  const b = new FrameBatcher((f) => frames.push(f));
  const id = newTicket(now);
  b.jobText(
    wireJobJson({ id, origin: 'o', submittedAt: now }, JSON.stringify(spec), { attempt: 1 }),
  );
  b.resultText(JSON.stringify(result(id)));
  b.flush();
  t.same(frames, [
    { type: 'JOB', jobs: [{ id, spec, origin: 'o', submittedAt: now, attempt: 1 }] },
    { type: 'RESULT', results: [result(id)] },
  ]);
  t.end();
});

t.test('a cleared batcher sends nothing', (t) => {
  const sent: string[] = [];
  const b = new FrameBatcher(
    () => t.fail('no object frame'),
    undefined,
    (s) => sent.push(s),
  );
  b.jobText(
    wireJobJson({ id: newTicket(now), origin: 'o', submittedAt: now }, '{}', { attempt: 1 }),
  );
  b.clear();
  t.notOk(b.waiting);
  b.flush();
  t.same(sent, []);
  t.end();
});

t.test('a forward made around the spec and result texts is the JSON of the same forward', (t) => {
  const id = newTicket(now);
  const head = { id, origin: 'node-7', submittedAt: now };
  const r = result(id);
  const decided = wireJobJson(head, JSON.stringify(spec), { result: JSON.stringify(r) });
  t.equal(decided, JSON.stringify({ id, spec, origin: 'node-7', submittedAt: now, result: r }));
  const placed = wireJobJson(head, JSON.stringify(spec), { startedHere: true });
  t.equal(
    placed,
    JSON.stringify({ id, spec, origin: 'node-7', submittedAt: now, startedHere: true }),
  );
  const parsed = parseFrame(`{"type":"JOB","jobs":[${decided},${placed}]}`);
  t.ok(parsed.ok, 'a JOB frame of both is valid');
  t.end();
});
