import t from 'tap';
import type { FrameIn } from '../shared/protocol.js';
import { LogRelay } from '../proxy/log-relay.js';

const TICKET = '01M8NATKA4C1CKFC7A3WDRCB5P';

t.test("the proxy's own log read goes to the node that ran the job and back", async (t) => {
  const sent: FrameIn[] = [];
  const relay = new LogRelay((id) => (id === 'n1' ? { send: (f) => sent.push(f) } : undefined));
  const answer = relay.ask({ ticket: TICKET, node: 'n1', offset: 0, max: 100, waitMs: 0 });
  t.equal(sent.length, 1);
  const read = sent[0] as Extract<FrameIn, { type: 'LOG_READ' }>;
  t.match(read, { type: 'LOG_READ', ticket: TICKET, node: 'n1', offset: 0, max: 100 });
  const data = Buffer.from('hello\n').toString('base64');
  const reply = { type: 'LOG_DATA', status: 'ok', offset: 0, data, size: 6, live: false } as const;
  relay.data('n2', { ...reply, reqId: read.reqId });
  relay.data('n1', { ...reply, reqId: read.reqId });
  t.match(await answer, { status: 'ok', data, size: 6 }, 'only the node asked answers');
});

t.test('a read of a node that is away, or of a stopping proxy, is unavailable', async (t) => {
  const relay = new LogRelay((id) => (id === 'n1' ? { send: () => {} } : undefined));
  const away = await relay.ask({ ticket: TICKET, node: 'n9', offset: 0, max: 10, waitMs: 0 });
  t.equal(away.status, 'unavailable');
  const pending = relay.ask({ ticket: TICKET, node: 'n1', offset: 0, max: 10, waitMs: 0 });
  relay.close();
  t.equal((await pending).status, 'unavailable');
});
