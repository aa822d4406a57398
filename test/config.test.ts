import { join } from 'node:path';
import t from 'tap';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';
import { PetrelError } from '../shared/errors.js';
import { newTicket, parseTicket, ticketTime } from '../shared/ids.js';
import { tempDir } from './helpers/cluster.js';
import { refusal } from './helpers/config-refusal.js';

t.test('defaults follow the design', async (t) => {
  const p = loadProxyConfig({});
  t.match(p, {
    PROXY_HOST: '0.0.0.0',
    PROXY_PORT: 8080,
    DISPATCH_PERIOD: 0,
    MAX_NUM_JOBS_DISPATCH: 30,
    REQUEST_RESULT_PERIOD: 3000,
    MAX_NUM_NODES: 64,
    NODE_TIMEOUT: 1500,
    POLICY: 'least-loaded',
    PREFETCH: 1,
    DURABILITY: 'fsync',
    RESULT_TTL: 604800000,
    DATA_DIR: './data/proxy',
  });
  t.ok(Object.isFrozen(p), 'frozen');
  const n = loadNodeConfig({});
  t.match(n, {
    PROXY_URL: 'ws://127.0.0.1:8080/cluster',
    CLIENT_PORT: 9000,
    HTTP_PORT: 0,
    INFO_PERIOD: 250,
    LOCAL_FALLBACK: 5000,
    CLAIM_WAIT: 10_000,
    EXEC_ALLOW: [],
    JOB_OUTPUT_LIMIT: 65536,
    JOB_LOG_LIMIT: 16 * 1024 * 1024,
    MAX_CLIENTS: 1024,
  });
  t.ok(n.SLOTS >= 1);
});

t.test("the seed's positional arguments", async (t) => {
  t.equal(loadProxyConfig({}, ['8081']).PROXY_PORT, 8081);
  t.equal(
    loadNodeConfig({}, ['reverse-proxy', '8080']).PROXY_URL,
    'ws://reverse-proxy:8080/cluster',
  );
  t.equal(loadNodeConfig({}, ['10.0.0.5']).PROXY_URL, 'ws://10.0.0.5:8080/cluster');
  t.same(loadNodeConfig({ EXEC_ALLOW: 'echo, /bin/ls ,' }).EXEC_ALLOW, ['echo', '/bin/ls']);
});

t.test('every problem is reported together', async (t) => {
  try {
    loadNodeConfig({
      SLOTS: 'many',
      CLIENT_PORT: '70000',
      PROXY_URL: 'http://x',
      CLIENT_TOKEN: 's3cret',
      INFO_PERIOD: '-1',
    });
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof PetrelError);
    const msg = (e as Error).message;
    t.match(msg, /4 problems/);
    for (const name of ['SLOTS', 'CLIENT_PORT', 'PROXY_URL', 'INFO_PERIOD']) t.match(msg, name);
    t.notMatch(msg, 's3cret', 'secrets are never echoed');
  }
  t.throws(() => loadProxyConfig({ POLICY: 'fastest' }), /POLICY/);
  t.throws(() => loadProxyConfig({ TLS_CERT: '/x.pem' }), /TLS_CERT and TLS_KEY/);
});

t.test('enum values are read in any letter case, as their documented spelling', async (t) => {
  const p = loadProxyConfig({ LOG_LEVEL: 'INFO', DURABILITY: 'Relaxed', POLICY: 'Power-Of-Two' });
  t.match(p, { LOG_LEVEL: 'info', DURABILITY: 'relaxed', POLICY: 'power-of-two' });
  const n = loadNodeConfig({ LOG_LEVEL: ' Debug ', DURABILITY: 'FSYNC', LOCAL_START: 'OFF' });
  t.match(n, { LOG_LEVEL: 'debug', DURABILITY: 'fsync', LOCAL_START: false });
  t.equal(loadNodeConfig({ LOCAL_START: 'True' }).LOCAL_START, true);
  // an unknown value is still refused, with what is allowed
  t.throws(
    () => loadProxyConfig({ LOG_LEVEL: 'VERBOSE' }),
    /LOG_LEVEL="VERBOSE": must be one of fatal, error, warn, info, debug, trace, silent/,
  );
  t.throws(
    () => loadProxyConfig({ DURABILITY: 'sync' }),
    /DURABILITY="sync": must be one of fsync, relaxed/,
  );
  t.throws(() => loadNodeConfig({ LOCAL_START: 'yes' }), /LOCAL_START="yes": must be 1 or 0/);
});

t.test('HTTP_PORT=off is a node without its HTTP API, as HTTP_PORT=0', async (t) => {
  t.equal(loadNodeConfig({ HTTP_PORT: 'off' }).HTTP_PORT, 0);
  t.equal(loadNodeConfig({ HTTP_PORT: 'OFF' }).HTTP_PORT, 0);
  t.equal(loadNodeConfig({ HTTP_PORT: '9100' }).HTTP_PORT, 9100);
  t.throws(() => loadNodeConfig({ HTTP_PORT: 'no' }), /HTTP_PORT="no"/);
});

t.test('a TLS_CERT without TLS_KEY is told with the other problems', async (t) => {
  const msg = refusal(() => loadNodeConfig({ TLS_CERT: '/x.pem', SLOTS: 'many' }));
  t.match(msg, /2 problems/);
  t.match(msg, /SLOTS="many"/);
  t.match(msg, /TLS_KEY=\(unset\): TLS_CERT and TLS_KEY must be set together/);
  t.match(
    refusal(() => loadProxyConfig({ TLS_KEY: '/k.pem' })),
    /1 problem\): TLS_CERT=\(unset\)/,
  );
});

t.test('every unreadable file is named at once', async (t) => {
  const dir = tempDir(t.teardown);
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  const msg = refusal(() => loadNodeConfig({ TLS_CERT: cert, TLS_KEY: key }));
  t.match(msg, `petrel-node: cannot read TLS_CERT=${cert} (no such file or directory)`);
  t.match(msg, `; cannot read TLS_KEY=${key} (no such file or directory)`);
  t.notMatch(msg, /\n/, 'one line');
});

t.test('tickets: 26 characters, time-ordered, unguessable', async (t) => {
  const seen = new Set<string>();
  let prev = '';
  let misordered = 0;
  let malformed = 0;
  for (let i = 0; i < 20_000; i++) {
    const tk = newTicket(1_700_000_000_000 + i);
    if (parseTicket(tk) !== tk) malformed++;
    if (tk <= prev) misordered++;
    prev = tk;
    seen.add(tk.slice(10));
  }
  t.equal(malformed, 0, 'every ticket is 26 characters of Crockford base32');
  t.equal(misordered, 0, 'tickets sort by time');
  t.equal(seen.size, 20_000, 'the random parts never repeat');
  t.equal(ticketTime(newTicket(1_234_567)), 1_234_567);
  const tk = newTicket();
  t.equal(parseTicket(tk.toLowerCase()), tk, 'case-insensitive');
  t.equal(parseTicket('not a ticket'), null);
});

t.test('placement and fair-share variables', async (t) => {
  const n = loadNodeConfig({
    NODE_LABELS: 'gpu, zone=eu,gpu',
    NODE_CPUS: '0.5',
    NODE_MEM_MB: '2048',
  });
  t.same(n.NODE_LABELS, ['gpu', 'zone=eu']);
  t.equal(n.NODE_CPUS, 0.5);
  t.equal(n.NODE_MEM_MB, 2048);
  const d = loadNodeConfig({});
  t.same(d.NODE_LABELS, []);
  t.ok(d.NODE_CPUS >= 1 && d.NODE_MEM_MB >= 1, 'defaults: the machine’s CPUs and memory');
  t.throws(() => loadNodeConfig({ NODE_LABELS: 'ok,not ok' }), /NODE_LABELS.*"not ok"/);
  t.throws(() => loadNodeConfig({ NODE_CPUS: '0' }), /NODE_CPUS/);
  const p = loadProxyConfig({ TENANT_WEIGHTS: 'a=3, b=1,c.d=0.5' });
  t.same(
    [...p.TENANT_WEIGHTS],
    [
      ['a', 3],
      ['b', 1],
      ['c.d', 0.5],
    ],
  );
  t.same([...loadProxyConfig({}).TENANT_WEIGHTS], []);
  t.throws(() => loadProxyConfig({ TENANT_WEIGHTS: 'a=0' }), /TENANT_WEIGHTS.*"a=0"/);
  t.throws(() => loadProxyConfig({ TENANT_WEIGHTS: 'a' }), /TENANT_WEIGHTS/);
});
