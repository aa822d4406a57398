import t from 'tap';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';
import { refusal } from './helpers/config-refusal.js';

t.test('a PROXY_URL that does not parse is refused naming the variable', async (t) => {
  for (const url of [
    'ws://host:99999/cluster',
    'ws://127.0.0.1:8080/cluster,ws://[::1/cluster',
    'ws://:8080/cluster',
  ]) {
    t.match(
      refusal(() => loadNodeConfig({ PROXY_URL: url })),
      /PROXY_URL=".*": must be a ws:\/\/ or wss:\/\/ URL/,
      url,
    );
  }
  t.match(
    refusal(() => loadNodeConfig({}, ['127.0.0.1', '70000'])),
    /PROXY_URL="ws:\/\/127\.0\.0\.1:70000\/cluster" \(from the arguments 127\.0\.0\.1 70000\): must be a ws/,
    "the seed's arguments",
  );
});

t.test('good PROXY_URLs still load', async (t) => {
  t.same(loadNodeConfig({ PROXY_URL: 'ws://a:1/cluster, wss://[::1]:8443/cluster' }).PROXY_URLS, [
    'ws://a:1/cluster',
    'wss://[::1]:8443/cluster',
  ]);
});

t.test("the proxy's URL variables are checked the same way", async (t) => {
  t.match(
    refusal(() => loadProxyConfig({ PROXY_ADVERTISE_URL: 'ws://p:123456/cluster' })),
    /PROXY_ADVERTISE_URL=".*": must be a ws:\/\/ or wss:\/\/ URL/,
  );
  t.match(
    refusal(() => loadProxyConfig({ ETCD_ENDPOINTS: 'http://etcd:2379,http://etcd:99999' })),
    /ETCD_ENDPOINTS=".*": must be http:\/\/ or https:\/\/ URLs/,
  );
  const p = loadProxyConfig({
    PROXY_ADVERTISE_URL: 'ws://p1:8080/cluster',
    ETCD_ENDPOINTS: 'http://etcd:2379',
  });
  t.equal(p.PROXY_ADVERTISE_URL, 'ws://p1:8080/cluster');
  t.same(p.ETCD_ENDPOINTS, ['http://etcd:2379']);
});
