import t from 'tap';
import { Leadership } from '../proxy/leadership.js';
import { ProxyTargets } from '../node/proxy-targets.js';
import { NOT_LEADER_CODE } from '../shared/protocol.js';

const opts = { ttlMs: 2000, marginMs: 100 };

t.test('a single proxy always acts and has no epoch', async (t) => {
  const l = new Leadership('ws://a/cluster', undefined);
  t.equal(l.state.role, 'single');
  t.ok(l.mayAct(1e12));
  t.equal(l.epoch, 0);
  t.equal(l.elected(5, 0, 0), 'none');
  t.equal(l.lost(), 'none');
});

t.test('a group proxy leads from its election until its claim lapses', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  t.equal(l.state.role, 'follower');
  t.notOk(l.mayAct(0), 'a follower may not act');
  t.equal(l.elected(7, 1000, 1100), 'lead');
  t.equal(l.epoch, 7);
  t.equal(l.leader, 'ws://a/cluster');
  t.ok(l.mayAct(2800), 'within ttl of the grant');
  t.notOk(l.mayAct(2900), 'past ttl less the margin of the grant');
  t.equal(l.state.role, 'follower', 'a lapsed claim makes it a follower');
  t.equal(l.epoch, 0);
});

t.test('keep-alives extend the claim from when they were sent', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  l.elected(3, 0, 10);
  l.keepaliveSent(600);
  l.keepaliveSent(1200);
  t.ok(l.mayAct(1800));
  l.keepaliveConfirmed(); // answers the one sent at 600
  t.ok(l.mayAct(2400), 'valid to 600 + 2000 - 100');
  t.notOk(l.mayAct(2500), 'an answer pairs with the oldest send, not the newest');
});

t.test('a paused leader finds its claim gone when it wakes', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  l.elected(3, 0, 10);
  l.keepaliveSent(500);
  // SIGSTOP here for 10 s; the answer to the last keep-alive is read on waking
  l.keepaliveConfirmed();
  t.notOk(l.mayAct(10_500), 'the answer does not revive a claim older than the ttl');
});

t.test('broken keep-alive streams drop unanswered sends', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  l.elected(3, 0, 10);
  l.keepaliveSent(500);
  l.keepaliveFailed();
  l.keepaliveSent(900);
  l.keepaliveConfirmed();
  t.ok(l.mayAct(2700), 'the answer pairs with the send after the break');
});

t.test('winning after the lease may have expired does not lead: it campaigns again', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  t.equal(l.elected(9, 0, 5000), 'campaign-again', 'its key would hold the group with no leader');
  t.equal(l.state.role, 'follower');
  t.notOk(l.mayAct(5000));
  l.keepaliveSent(4900);
  l.keepaliveConfirmed();
  t.equal(l.elected(10, 4900, 5000), 'lead', 'a fresh claim leads');
  t.equal(l.elected(10, 4900, 5100), 'none', 'a leader hears of its election once');
});

t.test('observing another leader or losing the lease steps down', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  t.equal(l.observed('ws://b/cluster', 3), 'none');
  t.equal(l.leader, 'ws://b/cluster', 'a follower names the leader');
  l.elected(4, 0, 10);
  t.equal(l.observed('ws://a/cluster', 4), 'none', 'seeing itself changes nothing');
  t.equal(l.observed(undefined, undefined), 'none', 'the observer lagging changes nothing');
  t.equal(l.observed('ws://c/cluster', 7), 'resign', 'a newer key leads: its own is gone');
  t.equal(l.leader, 'ws://c/cluster');
  t.notOk(l.mayAct(10));
  l.elected(9, 0, 10);
  t.equal(l.lost(), 'step-down');
  t.equal(l.lost(), 'none', 'only once');
  t.equal(l.leader, undefined);
});

t.test('a read of the election older than the win changes nothing', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  t.equal(l.observed('ws://b/cluster', 3), 'none');
  t.equal(l.elected(5, 0, 10), 'lead');
  // answered before the old leader's key went: naming it must not depose the new leader
  t.equal(l.observed('ws://b/cluster', 3), 'none');
  t.equal(l.state.role, 'leader');
  t.ok(l.mayAct(10));
  t.equal(l.leader, 'ws://a/cluster');
});

t.test('a leader named wrongly by value resigns only on a newer key', async (t) => {
  const l = new Leadership('ws://a/cluster', opts);
  t.equal(l.elected(5, 0, 10), 'lead');
  // the same proxy's value under a newer key: its own key is gone all the same
  t.equal(l.observed('ws://a/cluster', 8), 'resign');
  t.equal(l.leader, undefined, 'it names nobody rather than itself');
});

t.test('a node tries each proxy in turn and follows a named leader', async (t) => {
  const p = new ProxyTargets(['ws://a/cluster', 'ws://b/cluster', 'ws://c/cluster']);
  t.ok(p.group);
  t.equal(p.url, 'ws://a/cluster');
  p.failed();
  t.equal(p.url, 'ws://b/cluster');
  t.equal(p.closed(NOT_LEADER_CODE, 'not the leader; leader: ws://c/cluster'), 'now');
  t.equal(p.url, 'ws://c/cluster', 'the named leader is next, at once');
  p.failed();
  t.equal(p.url, 'ws://b/cluster', 'a leader that fails sends it back to the list');
  t.equal(p.closed(NOT_LEADER_CODE, 'not the leader; no leader elected yet'), 'later');
  t.equal(p.url, 'ws://c/cluster');
  t.equal(p.closed(1006, ''), 'later');
  t.equal(p.url, 'ws://a/cluster', 'round the list');
  t.equal(p.closed(NOT_LEADER_CODE, 'not the leader; leader: ws://b/cluster'), 'now');
  t.equal(
    p.closed(NOT_LEADER_CODE, 'not the leader; leader: ws://c/cluster'),
    'later',
    'a second named leader in a row waits its turn',
  );
  t.equal(p.url, 'ws://c/cluster');
  p.welcomed(undefined);
  t.equal(p.closed(NOT_LEADER_CODE, 'not the leader; leader: ws://a/cluster'), 'now');
  const one = new ProxyTargets(['ws://x/cluster']);
  one.failed();
  t.equal(one.url, 'ws://x/cluster', 'one proxy stays the one');
  t.notOk(one.group);
});

t.test('a node that lost its leader says so when it connects to another proxy', async (t) => {
  const p = new ProxyTargets(['ws://a/cluster', 'ws://b/cluster']);
  t.equal(p.connectUrl, 'ws://a/cluster');
  p.welcomed(3);
  p.closed(4008, 'declared dead after a silence', true);
  t.equal(p.connectUrl, 'ws://b/cluster', 'a leader that closed in words is alive');
  p.welcomed(3);
  p.closed(1006, '', true);
  t.equal(p.connectUrl, `ws://a/cluster?lost=${encodeURIComponent('ws://b/cluster')}`);
  p.closed(NOT_LEADER_CODE, 'not the leader; leader: ws://b/cluster');
  t.equal(p.url, 'ws://b/cluster', 'a follower that waited a lease and names it: it lives');
  p.welcomed(3);
  t.equal(p.connectUrl, 'ws://b/cluster', 'joined again: nothing to say');
  const one = new ProxyTargets(['ws://x/cluster']);
  one.closed(1006, '', true);
  t.equal(one.connectUrl, 'ws://x/cluster', 'a single proxy is never told');
});

t.test('a node refuses frames of an older epoch than it has seen', async (t) => {
  const p = new ProxyTargets(['ws://a/cluster'], 5);
  t.equal(p.welcomed(undefined), 'same', 'a single proxy has no epoch');
  t.equal(p.welcomed(4), 'stale');
  t.equal(p.welcomed(5), 'same');
  t.equal(p.welcomed(9), 'new');
  t.equal(p.epoch, 9);
  t.notOk(p.accepts(5));
  t.ok(p.accepts(9));
  t.ok(p.accepts(undefined));
  t.throws(() => new ProxyTargets([]));
});
