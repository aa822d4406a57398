import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';
import { tempDir } from './helpers/cluster.js';
import { refusal } from './helpers/config-refusal.js';

t.test('a path of only whitespace, or with whitespace at an end, is refused naming it', (t) => {
  const loaders = { 'petrel-proxy': loadProxyConfig, 'petrel-node': loadNodeConfig };
  for (const [who, load] of Object.entries(loaders)) {
    t.equal(
      refusal(() => load({ DATA_DIR: ' ' })),
      `${who}: invalid configuration (1 problem): DATA_DIR=" ": is only whitespace: leave it empty to unset it`,
      `${who}: only whitespace`,
    );
    for (const value of ['data ', ' /var/lib/petrel', '\tdata']) {
      t.match(
        refusal(() => load({ DATA_DIR: value })),
        `DATA_DIR=${JSON.stringify(value)}: a path must not begin or end with whitespace`,
        `${who}: ${JSON.stringify(value)}`,
      );
    }
    for (const name of ['TLS_CERT', 'TLS_KEY', 'TLS_CA']) {
      t.match(
        refusal(() => load({ TLS_CERT: 'c', TLS_KEY: 'k', [name]: 'file.pem ' })),
        `${name}="file.pem ": a path must not begin or end with whitespace`,
        `${who}: ${name}`,
      );
    }
    // empty is unset, as for every variable; a space inside a path is a path
    t.match(load({ DATA_DIR: '' }).DATA_DIR, /^\.\/data\//, `${who}: empty is the default`);
    t.equal(load({ DATA_DIR: '/srv/my data' }).DATA_DIR, '/srv/my data', `${who}: inner space`);
  }
  t.end();
});

t.test('DATA_DIR=" " stops the proxy with one line and makes no folder', (t) => {
  const cwd = tempDir(t.teardown);
  const program = join(import.meta.dirname, '..', 'dist', 'proxy', 'main.js');
  const run = spawnSync(process.execPath, [program], {
    cwd,
    env: { PATH: process.env.PATH, DATA_DIR: ' ', PROXY_PORT: '0', PROXY_HOST: '127.0.0.1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.not(run.status, 0, 'exits non-zero');
  t.match(run.stderr + run.stdout, /DATA_DIR=" ": is only whitespace/);
  t.same(readdirSync(cwd), [], 'no folder made');
  t.end();
});
