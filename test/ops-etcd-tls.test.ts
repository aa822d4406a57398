import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { freePorts } from '../bench/ports.js';
import { EtcdElection } from '../proxy/etcd-election.js';
import { silentLogger } from '../shared/log.js';
import { startProxy, tempDir, until } from './helpers/cluster.js';
import { etcd, NO_ETCD } from './helpers/group.js';

t.test(
  'the election reaches an https:// etcd whose certificate a private CA signed',
  { skip: !etcd && NO_ETCD },
  async (t) => {
    const dir = tempDir(t.teardown);
    const cert = join(dir, 'etcd-cert.pem');
    const key = join(dir, 'etcd-key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat(
        ['-days', '1', '-subj', '/CN=etcd', '-addext', 'subjectAltName=IP:127.0.0.1'],
        ['-keyout', key, '-out', cert],
      ),
      { stdio: 'ignore' },
    );
    const [client, peer] = (await freePorts(2)) as [number, number];
    const endpoint = `https://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const child = spawn(
      etcd as string,
      [
        '--name=tls',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=tls=${peerUrl}`,
        `--cert-file=${cert}`,
        `--key-file=${key}`,
        '--log-level=error',
      ],
      { stdio: 'ignore' },
    );
    t.teardown(() => void child.kill('SIGKILL'));
    let epoch = 0;
    const election = new EtcdElection(
      {
        endpoints: [endpoint],
        name: 'tls',
        ttlSeconds: 2,
        value: 'ws://127.0.0.1:1/cluster',
        ca: readFileSync(cert),
        log: silentLogger(),
      },
      {
        elected: (e) => (epoch = e),
        observed: () => {},
        lost: () => {},
        keepaliveSent: () => {},
        keepaliveConfirmed: () => {},
        keepaliveFailed: () => {},
      },
    );
    t.teardown(() => election.close());
    election.start();
    await until(() => epoch > 0, 30_000, 'leading through https:// etcd');
    t.ok(epoch > 0, 'elected');
    election.close();

    // a proxy given TLS_CA trusts that CA for its etcd: it leads once the lease above lapses
    const proxy = await startProxy(t.teardown, {
      ETCD_ENDPOINTS: endpoint,
      ETCD_PREFIX: 'tls',
      ETCD_LEASE_TTL: '2',
      TLS_CA: cert,
    });
    await until(() => proxy.mayAct(), 30_000, 'the proxy leads through https:// etcd');
    t.ok(proxy.mayAct(), 'the proxy leads');
  },
);
