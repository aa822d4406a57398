import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';
import { tempDir } from './helpers/cluster.js';

/** A self-signed certificate and its key, as PEM files in `dir` (named by `name`). */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore' },
  );
  return { cert, key };
}

t.test('a TLS file that is readable but wrong is named with its variable', (t) => {
  const dir = tempDir(t.teardown);
  const good = selfSigned(dir, 'a');
  const other = selfSigned(dir, 'b');
  const text = join(dir, 'hostname');
  writeFileSync(text, 'petrel-host\n');
  const loaders = { 'petrel-proxy': loadProxyConfig, 'petrel-node': loadNodeConfig };
  for (const [who, load] of Object.entries(loaders)) {
    const env = (e: Record<string, string>) => () => load({ DATA_DIR: dir, ...e });
    t.throws(
      env({ TLS_CERT: text, TLS_KEY: text }),
      { code: 'ERR_FILE_UNREADABLE', message: `${who}: TLS_CERT=${text} is not a PEM certificate` },
      `${who}: TLS_CERT`,
    );
    t.throws(
      env({ TLS_CERT: good.cert, TLS_KEY: text }),
      {
        message: `${who}: TLS_KEY=${text} is not a PEM private key: set TLS_KEY to the right file`,
      },
      `${who}: TLS_KEY`,
    );
    t.throws(
      env({ TLS_CERT: good.cert, TLS_KEY: other.key }),
      { message: new RegExp(`TLS_KEY=${other.key} is not the key of TLS_CERT=${good.cert}`) },
      `${who}: a key of another certificate`,
    );
    t.throws(
      env({ TLS_CA: text }),
      { message: `${who}: TLS_CA=${text} is not a PEM certificate: set TLS_CA to the right file` },
      `${who}: TLS_CA`,
    );
    t.doesNotThrow(env({ TLS_CERT: good.cert, TLS_KEY: good.key, TLS_CA: other.cert }));
  }
  t.end();
});

t.test('a malformed ETCD_ENDPOINTS is reported under its name, with its value', (t) => {
  t.throws(() => loadProxyConfig({ ETCD_ENDPOINTS: 'etcd:2379' }), {
    code: 'ERR_CONFIG_INVALID',
    message: /ETCD_ENDPOINTS="etcd:2379": must be http:\/\/ or https:\/\/ URLs/,
  });
  t.end();
});
