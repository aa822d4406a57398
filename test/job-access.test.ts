import http from 'node:http';
import { networkInterfaces } from 'node:os';
import t from 'tap';
import { isLocalHost, jobAccess } from '../proxy/job-access.js';
import { LineClient, startCluster } from './helpers/cluster.js';

t.test('without a token: this machine only, by peer and by the host it names', async (t) => {
  const access = jobAccess(undefined);
  const ask = (peer: string, host: string) => access({ peer, host, authorization: undefined });
  t.equal(ask('127.0.0.1', 'localhost:8080'), null);
  t.equal(ask('::1', '[::1]:8080'), null);
  t.equal(ask('::ffff:127.0.0.1', '127.0.0.1:8080'), null);
  t.equal(ask('127.0.0.1', 'dash.localhost'), null);
  t.match(ask('10.0.0.7', 'localhost:8080'), { code: 'FORBIDDEN', message: /DASHBOARD_TOKEN/ });
  t.match(ask('127.0.0.1', 'petrel.example.com'), { code: 'FORBIDDEN' }, 'a forwarded request');
  t.match(ask('127.0.0.1', '127.attacker.example'), { code: 'FORBIDDEN' }, 'a name, not an IP');
  t.match(access({ peer: '127.0.0.1', host: undefined, authorization: undefined }), {
    code: 'FORBIDDEN',
  });
  t.ok(isLocalHost('LOCALHOST'));
  t.notOk(isLocalHost('localhost.example.com'));
  t.notOk(isLocalHost('10.1.2.3:80'));
});

t.test('with a token: whoever sends it, from anywhere', async (t) => {
  const access = jobAccess('s3cret');
  const ask = (authorization: string | undefined) =>
    access({ peer: '10.0.0.7', host: 'petrel.example.com', authorization });
  t.equal(ask('Bearer s3cret'), null);
  t.equal(ask('bearer  s3cret '), null);
  t.match(ask(undefined), { code: 'UNAUTHORIZED', message: /Bearer <DASHBOARD_TOKEN>/ });
  t.match(ask('Bearer s3cre'), { code: 'UNAUTHORIZED', message: 'wrong token' });
  t.match(ask('Basic s3cret'), { code: 'UNAUTHORIZED' });
  t.match(
    access({ peer: '127.0.0.1', host: 'localhost', authorization: undefined }),
    { code: 'UNAUTHORIZED' },
    'with a token set, this machine sends it too',
  );
});

/** A request with any Host header (fetch sets its own). */
function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An address of this machine that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

t.test("the proxy's job paths answer only whom they may", async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1, {
    proxyEnv: { PROXY_HOST: '0.0.0.0' },
  });
  const local = `http://127.0.0.1:${proxy.port}`;
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const ticket = (await c.ask('SUBMIT echo private')).slice(3);
  await c.ask(`WAIT ${ticket} 20000`);

  t.match((await request(`${local}/api/jobs/${ticket}`)).body, { output: 'private' });
  const forwarded = await request(`${local}/api/jobs?state=done`, {
    headers: { host: 'petrel.example.com' },
  });
  t.equal(forwarded.status, 403, 'a request naming another host, through loopback');
  t.match(forwarded.body, { error: { code: 'FORBIDDEN', message: /DASHBOARD_TOKEN/ } });
  const retried = await request(`${local}/api/jobs/${ticket}/retry`, {
    method: 'POST',
    headers: { host: 'petrel.example.com', 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(retried.status, 403, 'nor a retry');
  const numbers = await request(`${local}/api/cluster`, {
    headers: { host: 'petrel.example.com' },
  });
  t.equal(numbers.status, 200, "the cluster's numbers stay open");
  t.notMatch(JSON.stringify(numbers.body), ticket, 'and name no ticket');

  const outside = outsideAddress();
  if (outside === undefined) {
    t.comment('no non-loopback address on this machine: the remote peer case is left out');
    return;
  }
  const remote = await request(`http://${outside}:${proxy.port}/api/jobs/${ticket}`);
  t.equal(remote.status, 403, `from ${outside}, not loopback`);
});

t.test('DASHBOARD_TOKEN lets its bearer in from anywhere, and no one else', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1, {
    proxyEnv: { PROXY_HOST: '0.0.0.0', DASHBOARD_TOKEN: 'tok-123' },
  });
  const local = `http://127.0.0.1:${proxy.port}`;
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const ticket = (await c.ask('SUBMIT echo private')).slice(3);
  await c.ask(`WAIT ${ticket} 20000`);

  const bare = await request(`${local}/api/jobs/${ticket}`);
  t.equal(bare.status, 401, 'this machine too must send it');
  t.equal(bare.headers['www-authenticate'], 'Bearer realm="petrel"');
  const wrong = await request(`${local}/api/jobs/${ticket}`, {
    headers: { authorization: 'Bearer tok-12' },
  });
  t.match(wrong, { status: 401, body: { error: { message: 'wrong token' } } });
  const bearer = { authorization: 'Bearer tok-123', host: 'petrel.example.com' };
  const shown = await request(`${local}/api/jobs/${ticket}/logs`, { headers: bearer });
  t.match(shown, { status: 200, body: { text: 'private' } });
  const retry = await request(`${local}/api/jobs/${ticket}/retry`, {
    method: 'POST',
    headers: { ...bearer, 'content-type': 'application/json' },
    body: '{}',
  });
  t.match(retry, { status: 400, body: { error: { message: /done/ } } }, 'the retry is heard');
  // a schedule's spec is a job's: the list of them is guarded alike
  t.equal((await request(`${local}/api/schedules`)).status, 401, 'schedules: the token too');
  const schedules = await request(`${local}/api/schedules`, { headers: bearer });
  t.match(schedules, { status: 200, body: { schedules: [], total: 0 } });

  const outside = outsideAddress();
  if (outside === undefined) return;
  const remote = await request(`http://${outside}:${proxy.port}/api/jobs?state=done`, {
    headers: { authorization: 'Bearer tok-123' },
  });
  t.equal(remote.status, 200, `from ${outside} with the token`);
  t.match(remote.body, { jobs: [{ ticket }] });
});
