import t from 'tap';
import { newTicket } from '../shared/ids.js';
import type { ProxyLink } from '../node/proxy-link.js';
import type { PetrelNode } from '../node/node.js';
import { recentTicket, RECENT_TICKET_MS } from '../proxy/ticket-views.js';
import { LineClient, startCluster, until } from './helpers/cluster.js';

/**
 * A ticket asked for on another node before its origin's forward reached the proxy: the proxy
 * asks the nodes rather than calling it unknown, and a CANCEL waits until it can be obeyed.
 */

function linkOf(node: PetrelNode): ProxyLink {
  return (node as unknown as { link: ProxyLink }).link;
}

/** Holds `node`'s forwards of its own tickets until `release()`. */
function holdForwards(node: PetrelNode) {
  const link = linkOf(node);
  const send = link.forwardOwn.bind(link);
  const held: Array<Parameters<ProxyLink['forwardOwn']>> = [];
  link.forwardOwn = (...args) => void held.push(args);
  return {
    held,
    release() {
      link.forwardOwn = send;
      for (const args of held.splice(0)) send(...args);
      link.flush();
    },
  };
}

/** Counts `node`'s requests of `kind` to the proxy. */
function countRequests(node: PetrelNode, kind: 'lookup' | 'cancel') {
  const link = linkOf(node);
  const request = link.request.bind(link);
  const counter = { n: 0 };
  link.request = (k, ids, ms) => {
    if (k === kind) counter.n++;
    return request(k, ids, ms);
  };
  return counter;
}

t.test('recentTicket reads the time a ticket was issued', async (t) => {
  const now = Date.now();
  t.ok(recentTicket(newTicket(now), now));
  t.ok(recentTicket(newTicket(now - RECENT_TICKET_MS + 1000), now), 'a little old');
  t.notOk(recentTicket(newTicket(now - 2000), now, 1000), 'older than a shorter window');
  t.ok(recentTicket(newTicket(now + 5000), now), 'from a node whose clock is ahead');
  t.notOk(recentTicket(newTicket(now - RECENT_TICKET_MS - 1000), now), 'old');
  t.notOk(recentTicket(newTicket(now + RECENT_TICKET_MS + 1000), now), 'far ahead');
});

t.test('a ticket still on its way to the proxy is found, and cancelled once there', async (t) => {
  const { nodes, proxy } = await startCluster(t.teardown, 2, { nodeEnv: { LOCAL_START: '0' } });
  const [a, b] = nodes as [PetrelNode, PetrelNode];
  const ca = await LineClient.connect(a.clientPort, t.teardown);
  const cb = await LineClient.connect(b.clientPort, t.teardown);

  const forwards = holdForwards(a);
  const ticket = (await ca.ask('SUBMIT sleep 60000')).replace(/^OK /, '');
  t.equal(forwards.held.length, 1, 'the forward is held');
  t.notOk(proxy.scheduler.view(ticket), 'the proxy has not heard of it');

  t.equal(await cb.ask(`STATUS ${ticket}`), 'OK queued', 'another node finds it at its origin');
  t.match(await cb.ask(`RESULT ${ticket}`), /^OK \{"ticket":"[^"]+","state":"queued"/);

  const cancels = countRequests(b, 'cancel');
  const cancelled = cb.ask(`CANCEL ${ticket}`);
  // the proxy says "try again" while it cannot cancel a job it does not hold
  await until(() => cancels.n >= 2, 5000, 'the cancel to be asked again');
  forwards.release();
  t.equal(await cancelled, 'OK cancelled', 'obeyed once the proxy holds the job');
  t.match(await ca.ask(`WAIT ${ticket} 5000`), /"state":"cancelled"/, 'its origin agrees');

  const nobodys = newTicket();
  t.equal(
    await cb.ask(`STATUS ${nobodys}`),
    `ERR NOT_FOUND no such ticket: ${nobodys}`,
    'a recent ticket no node issued is still unknown',
  );
});
