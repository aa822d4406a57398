import t from 'tap';
import { FrameBatcher } from '../shared/batcher.js';
import type { FrameIn } from '../shared/protocol.js';
import { Membership } from '../proxy/membership.js';
import { MAX_LATE_ACK_MS, Outbox } from '../proxy/outbox.js';

function node(id: string) {
  const sent: FrameIn[] = [];
  const send = (f: FrameIn) => sent.push(f);
  const n = new Membership().attach(id, 4, { out: new FrameBatcher(send), send, close() {} });
  return { n, sent };
}

t.test("a result's ack waits for other frames, a quarter of the resend period at most", (t) => {
  const box = new Outbox();
  box.resendPeriod(400);
  const { n, sent } = node('a');
  const queued = Date.now();
  box.ack(n, 'result', 'r1');
  box.flush(queued + 50);
  t.same(sent, [], 'not yet: it may ride with a dispatch');
  box.flush(queued + 150);
  t.same(sent, [{ type: 'ACK', jobs: [], results: ['r1'] }], 'alone once it waited its 100 ms');
  t.end();
});

t.test('an ack that waits leaves with the next frame to its node', (t) => {
  const box = new Outbox();
  box.resendPeriod(3000);
  const { n, sent } = node('a');
  box.ack(n, 'result', 'r1');
  box.ack(n, 'job', 'j1');
  box.flush();
  t.same(sent, [{ type: 'ACK', jobs: ['j1'], results: ['r1'] }]);
  t.end();
});

t.test('a stopping node hears at once; the wait never exceeds its bound', (t) => {
  const box = new Outbox();
  box.resendPeriod(60_000);
  const { n, sent } = node('a');
  n.draining = true;
  box.ack(n, 'result', 'r1');
  box.flush();
  t.same(sent, [{ type: 'ACK', jobs: [], results: ['r1'] }], 'it waits for its acks to stop');
  const other = node('b');
  const queued = Date.now();
  box.ack(other.n, 'result', 'r2');
  box.flush(queued + MAX_LATE_ACK_MS - 10);
  t.same(other.sent, []);
  box.flush(queued + MAX_LATE_ACK_MS + 50);
  t.equal(other.sent.length, 1, `sent after ${MAX_LATE_ACK_MS} ms even with a long period`);
  t.end();
});
