import t from 'tap';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';
import { refusal } from './helpers/config-refusal.js';

t.test('a number variable of only spaces is refused, not read as 0 (a random port)', async (t) => {
  t.match(
    refusal(() => loadProxyConfig({ PROXY_PORT: ' ' })),
    /PROXY_PORT=" ": must be a number/,
  );
  t.match(
    refusal(() => loadNodeConfig({ CLIENT_PORT: '  ' })),
    /CLIENT_PORT=" {2}": must be a number/,
  );
});

t.test('hex, exponents and Infinity are not numbers an operator meant', async (t) => {
  const msg = refusal(() =>
    loadProxyConfig({ PROXY_PORT: '0x10', NODE_TIMEOUT: '1e3', PHI_THRESHOLD: 'Infinity' }),
  );
  t.match(msg, /3 problems/);
  t.match(msg, /PROXY_PORT="0x10": must be a number/);
  t.match(msg, /NODE_TIMEOUT="1e3": must be a number/);
  t.match(msg, /PHI_THRESHOLD="Infinity": must be a number/);
  t.match(
    refusal(() => loadNodeConfig({ NODE_CPUS: '0x2' })),
    /NODE_CPUS="0x2": must be a number/,
  );
});

t.test('plain decimals still work, spaces around them too', async (t) => {
  const p = loadProxyConfig({ PROXY_PORT: ' 8081 ', PHI_THRESHOLD: '2.5', NODE_TIMEOUT: '+900' });
  t.equal(p.PROXY_PORT, 8081);
  t.equal(p.PHI_THRESHOLD, 2.5);
  t.equal(p.NODE_TIMEOUT, 900);
  const n = loadNodeConfig({ SLOTS: '4', NODE_CPUS: '0.5' });
  t.equal(n.SLOTS, 4);
  t.equal(n.NODE_CPUS, 0.5);
  t.match(
    refusal(() => loadNodeConfig({ SLOTS: '-3' })),
    /SLOTS="-3": must be at least 1/,
  );
  t.match(
    refusal(() => loadNodeConfig({ SLOTS: '2.5' })),
    /SLOTS="2.5": must be a whole number/,
  );
});

t.test('a period or timeout a timer cannot hold (2^31 ms and more) is refused', async (t) => {
  // Node runs such a timer after 1 ms: INFO_PERIOD=3000000000 was a heartbeat every 1 ms,
  // LOCAL_FALLBACK=3000000000 a fallback at once
  const big = '3000000000';
  const node = refusal(() =>
    loadNodeConfig({
      INFO_PERIOD: big,
      LOCAL_FALLBACK: big,
      CLIENT_IDLE_TIMEOUT: big,
      DRAIN_TIMEOUT: big,
    }),
  );
  t.match(node, /4 problems/);
  for (const name of ['INFO_PERIOD', 'LOCAL_FALLBACK', 'CLIENT_IDLE_TIMEOUT', 'DRAIN_TIMEOUT']) {
    t.match(node, `${name}="${big}": must be at most 2147483647`);
  }
  const proxy = refusal(() =>
    loadProxyConfig({ DISPATCH_PERIOD: big, REQUEST_RESULT_PERIOD: big, NODE_TIMEOUT: big }),
  );
  t.match(proxy, /3 problems/);
  t.equal(loadNodeConfig({ LOCAL_FALLBACK: '2147483647' }).LOCAL_FALLBACK, 2147483647);
  t.equal(loadProxyConfig({ RESULT_TTL: '7776000000' }).RESULT_TTL, 7776000000, '90 days');
});
