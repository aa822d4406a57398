import t from 'tap';
import { Forwarding, type ForwardingDeps } from '../node/forwarding.js';
import type { OpenTicket } from '../node/origin.js';
import { RECENT_RESULTS_MS } from '../node/recent-results.js';
import type { TicketRow } from '../node/ticket-store.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';

const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'] });

/** An origin's forwarding over a link that notes, in order, what goes out and when. */
function forwarding(
  tickets: Array<Partial<OpenTicket> & Pick<OpenTicket, 'state'>>,
  fileRows: TicketRow[] = [],
) {
  const open = new Map<string, OpenTicket>();
  for (const x of tickets) {
    const id = newTicket();
    open.set(id, { id, spec, submittedAt: Date.now(), local: false, ...x });
  }
  const wire: string[] = [];
  const link = {
    forwardOwn: (o: { id: string }) => wire.push(`queued ${o.id}`),
    forward: (j: { id: string }) => wire.push(`queued ${j.id}`),
    flush: () => wire.push('flush'),
    send: (f: { type: string }) => wire.push(`sent ${f.type}`),
  };
  const accepted: string[] = [];
  const store = {
    unreported: () => [],
    markAccepted: (ids: string[]) => accepted.push(...ids),
    recentRows: () => fileRows,
  };
  const deps = { tickets: store, link, open, nodeId: 'o' };
  const f = new Forwarding(deps as unknown as ForwardingDeps);
  return { f, ids: [...open.keys()], wire, open, accepted };
}

t.test('only a ticket waiting for the proxy’s result ends EXPIRED when it expired there', (t) => {
  const { f, ids } = forwarding([
    { state: 'forwarded' },
    { state: 'accepted' }, // the proxy never acknowledged it: it is forwarded again instead
    { state: 'forwarded', local: true, startedHere: true }, // runs here: its run decides
  ]);
  const ends = f.expired([...ids, newTicket()], 1234);
  t.same(ends, [
    {
      id: ids[0],
      state: 'failed',
      exitCode: null,
      output: '',
      error: 'EXPIRED',
      node: null,
      attempt: 0,
      startedAt: null,
      finishedAt: 1234,
    },
  ]);
  t.end();
});

t.test('a node joining a new leader forwards its tickets before it asks for them', (t) => {
  const { f, ids, wire } = forwarding([{ state: 'forwarded' }]);
  f.rejoined(true);
  t.same(wire, [`queued ${ids[0]}`, 'flush', 'sent RES_REQ'], 'else it would be told expired');
  t.end();
});

t.test('a proxy that may lack what it acknowledged: those tickets wait for it again', (t) => {
  const { f, ids, open, accepted } = forwarding([
    { state: 'forwarded' },
    { state: 'accepted' },
    { state: 'forwarded', local: true }, // runs here under LOCAL_FALLBACK
    { state: 'forwarded', startedHere: true }, // placed from here (LOCAL_START): its own path
  ]);
  f.rejoined(false);
  t.same(accepted, [], 'the same proxy: nothing changes');
  f.rejoined(true);
  t.same(accepted, [ids[0]], 'marked on disk');
  t.same(
    ids.map((id) => open.get(id)!.state),
    ['accepted', 'accepted', 'forwarded', 'forwarded'],
  );
  t.same(f.expired(ids), [], 'and no longer taken for expired if this proxy lacks them');
  t.end();
});

t.test('a new leader is told the results this node received lately, after a restart too', (t) => {
  const now = Date.now();
  const row = (finishedAt: number | null): TicketRow => {
    const id = newTicket();
    const result =
      finishedAt === null
        ? null
        : ({ id, state: 'done', output: '', finishedAt } as unknown as JobResult);
    return { id, spec, state: result ? 'done' : 'forwarded', submittedAt: now - 20_000, result };
  };
  // the file's newest tickets, newest first: one ended 2 s ago, one still open, one ended long ago
  const rows = [row(now - 2000), row(null), row(now - RECENT_RESULTS_MS - 5000)];
  const { f, wire } = forwarding([], rows);
  const pushed = newTicket(); // a result the proxy pushed since this node started
  const result = { id: pushed, state: 'done', output: '', finishedAt: now } as unknown as JobResult;
  f.noteDelivered({ id: pushed, spec, submittedAt: now, local: false, state: 'forwarded' }, result);
  f.rejoined(false);
  t.same(wire, ['flush'], 'the same proxy is told nothing again');
  f.rejoined(true);
  t.ok(wire.includes(`queued ${rows[0]!.id}`), 'one the file says ended lately');
  t.notOk(wire.includes(`queued ${rows[1]!.id}`), 'not one still open (it goes as open)');
  t.notOk(wire.includes(`queued ${rows[2]!.id}`), 'nor one that ended long ago');
  t.ok(wire.includes(`queued ${pushed}`), 'one received since');
  t.end();
});
