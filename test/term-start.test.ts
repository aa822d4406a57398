import t from 'tap';
import { startEtcd } from '../bench/etcd.js';
import { loadProxyConfig } from '../shared/config.js';
import { silentLogger } from '../shared/log.js';
import { PetrelProxy } from '../proxy/proxy.js';
import type { LeaderTerm, TermStores } from '../proxy/term.js';
import { tempDir, until } from './helpers/cluster.js';
import { etcd, NO_ETCD } from './helpers/group.js';

// A proxy elected whose term cannot start must not keep its election key: holding it without
// a term would keep every other proxy of the group from leading for as long as it lives.

/** A proxy whose terms fail to start while `failing` is set. */
class FailingTerms extends PetrelProxy {
  failing = true;
  failures = 0;
  protected override newTerm(epoch: number, group?: TermStores): LeaderTerm {
    if (this.failing) {
      this.failures++;
      throw new Error('injected: the term cannot start');
    }
    return super.newTerm(epoch, group);
  }
}

if (!etcd) {
  t.comment(`skipped: ${NO_ETCD}`);
  t.pass('skipped: etcd is absent');
} else {
  t.test('a proxy whose term cannot start hands leadership on', async (t) => {
    const server = await startEtcd(etcd as string);
    t.teardown(() => server.stop());
    const start = async <P extends PetrelProxy>(
      make: (cfg: ReturnType<typeof loadProxyConfig>) => P,
    ): Promise<P> => {
      const cfg = loadProxyConfig({
        PROXY_HOST: '127.0.0.1',
        PROXY_PORT: '0',
        DATA_DIR: tempDir(t.teardown),
        DURABILITY: 'relaxed',
        ETCD_ENDPOINTS: server.endpoint,
        ETCD_PREFIX: 'term-start',
        ETCD_LEASE_TTL: '2',
      });
      const proxy = make(cfg);
      t.teardown(() => proxy.close());
      await proxy.start();
      return proxy;
    };
    const a = await start((cfg) => new FailingTerms(cfg, silentLogger()));
    await until(() => a.failures > 0, 20_000, "a's term to fail");
    t.equal(a.activeTerm(), undefined, 'a has no term');
    // a keeps failing and campaigning again; b joins the election behind it
    const b = await start((cfg) => new PetrelProxy(cfg, silentLogger()));
    await until(() => b.activeTerm() !== undefined, 20_000, 'b to lead');
    t.equal(b.groupView()?.role, 'leader');
    await until(() => a.groupView()?.role === 'follower', 20_000, 'a to follow b');
    t.equal(a.groupView()?.leader, b.groupView()?.leader, 'a names the leader b names');
    t.ok(a.failures > 0, `a's terms failed ${a.failures} time(s) before b led`);
    // b goes: a, able to start a term now, takes over
    a.failing = false;
    await b.close();
    await until(() => a.activeTerm() !== undefined, 30_000, 'a to lead once b is gone');
    t.equal(a.groupView()?.role, 'leader');
  });
}
