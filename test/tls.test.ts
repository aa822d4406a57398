import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import t from 'tap';
import { startNode, startProxy, tempDir, until } from './helpers/cluster.js';

t.test('TLS on both ports: wss:// between node and proxy, TLS for clients', async (t) => {
  const dir = tempDir(t.teardown);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const tlsEnv = { TLS_CERT: cert, TLS_KEY: key, TLS_CA: cert };
  const proxy = await startProxy(t.teardown, tlsEnv);
  const node = await startNode(t.teardown, proxy.port, {
    ...tlsEnv,
    PROXY_URL: `wss://127.0.0.1:${proxy.port}/cluster`,
  });
  await until(
    () => proxy.scheduler.connectedNodes().length === 1,
    10_000,
    'the node to join over wss',
  );

  const health = await new Promise<number>((resolve, reject) => {
    const req = tls.connect({ port: proxy.port, host: '127.0.0.1', ca: readFileSync(cert) }, () => {
      req.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => resolve(Number(text.split(' ')[1])));
    req.on('error', reject);
  });
  t.equal(health, 200, 'the proxy serves HTTPS');

  const socket = tls.connect({ port: node.clientPort, host: '127.0.0.1', ca: readFileSync(cert) });
  t.teardown(() => socket.destroy());
  await new Promise((r) => socket.once('secureConnect', r));
  const lines = createInterface({ input: socket })[Symbol.asyncIterator]();
  const ask = async (line: string) => {
    socket.write(line + '\n');
    return String((await lines.next()).value);
  };
  const ticket = (await ask('SUBMIT echo over tls')).slice(3);
  t.match(await ask(`WAIT ${ticket} 10000`), /"output":"over tls"/);

  // a plain-text client gets nothing it can read from a TLS port
  const refused = await new Promise<boolean>((resolve) => {
    const plain = tls.connect({
      port: node.clientPort,
      host: '127.0.0.1',
      rejectUnauthorized: true,
    });
    plain.once('error', () => resolve(true));
    plain.once('secureConnect', () => resolve(false));
  });
  t.ok(refused, 'an untrusted certificate is refused by a verifying client');
});
