import { readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { NODE_SCHEMA_VERSION } from '../node/schema.js';
import { LineClient, spawnNode, spawnProxy, tempDir } from './helpers/cluster.js';
import { runDist } from './helpers/petrel-cli.js';

/** Runs `dist/<which>/main.js` with `args` and `env`: its output and exit code. */
const run = (which: 'proxy' | 'node', args: string[], env: Record<string, string> = {}) =>
  runDist(`${which}/main.js`, args, { env });

/** What a database file holds, read without writing it. */
function inspect(file: string, table: string) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return {
      ids: (db.prepare(`SELECT id FROM ${table}`).all() as Array<{ id: string }>).map((r) => r.id),
      version: db.pragma('user_version', { simple: true }) as number,
      integrity: db.pragma('integrity_check', { simple: true }) as string,
    };
  } finally {
    db.close();
  }
}

t.test('--help tells of --backup', async (t) => {
  for (const which of ['proxy', 'node'] as const) {
    const r = await run(which, ['--help']);
    t.equal(r.code, 0);
    t.match(r.stdout, `petrel-${which} --backup <file>`);
  }
});

t.test('a backup of a running node, taken while it writes, restores its tickets', async (t) => {
  const proxyDir = tempDir(t.teardown);
  const proxy = await spawnProxy(t.teardown, proxyDir);
  const nodeDir = tempDir(t.teardown);
  const backups = tempDir(t.teardown);
  const node = await spawnNode(t.teardown, proxy.port, nodeDir, { NODE_ID: 'keeper' });
  const c = await LineClient.connect(node.port, t.teardown);
  const views = new Map<string, string>();
  for (let i = 0; i < 40; i++) {
    const ticket = (await c.ask(`SUBMIT echo job ${i}`)).slice(3);
    views.set(ticket, '');
  }
  for (const ticket of views.keys()) {
    const r = await c.ask(`WAIT ${ticket} 20000`);
    t.match(r, /"state":"done"/);
    views.set(ticket, r);
  }

  // the node goes on taking jobs while the copy is taken
  let writing = true;
  let during = 0;
  const writer = (async () => {
    while (writing) {
      const reply = await c.ask(`SUBMIT echo more ${during}`);
      if (!reply.startsWith('OK ')) throw new Error(reply);
      during++;
    }
  })();
  const dest = join(backups, 'node-copy.db');
  const r = await run('node', ['--backup', dest], { DATA_DIR: nodeDir });
  writing = false;
  await writer;
  t.ok(during > 0, `${during} tickets issued meanwhile`);
  t.equal(r.stderr, '');
  t.equal(r.code, 0, 'exit 0');
  const db = join(nodeDir, 'node.db');
  t.match(
    r.stdout,
    new RegExp(
      `^petrel-node: backup of ${db} written to ${dest} \\(\\d+\\.\\d [KM]iB, schema ${NODE_SCHEMA_VERSION}\\)\\n$`,
    ),
  );
  const copy = inspect(dest, 'tickets');
  t.equal(copy.integrity, 'ok', 'integrity_check');
  t.equal(copy.version, inspect(db, 'tickets').version, "the original's user_version");
  t.equal(copy.version, NODE_SCHEMA_VERSION);
  const tickets = [...views.keys()];
  t.same(
    tickets.filter((id) => !copy.ids.includes(id)),
    [],
    'every finished ticket is in the copy',
  );

  // never over an existing file
  const before = readFileSync(dest);
  const mtime = statSync(dest).mtimeMs;
  const again = await run('node', ['--backup', dest], { DATA_DIR: nodeDir });
  t.equal(again.code, 1);
  t.equal(again.stdout, '');
  t.equal(
    again.stderr,
    `petrel-node: ERR_BACKUP: ${dest} already exists: a backup never overwrites a file; ` +
      'name a new one, or move that one away first\n',
  );
  t.ok(readFileSync(dest).equals(before), 'the file is untouched');
  t.equal(statSync(dest).mtimeMs, mtime);

  // the proxy's file too, while it runs
  const proxyCopy = join(backups, 'proxy-copy.db');
  const p = await run('proxy', ['--backup', proxyCopy], { DATA_DIR: proxyDir });
  t.equal(p.code, 0, p.stderr);
  t.match(p.stdout, /^petrel-proxy: backup of .*proxy\.db written to .*proxy-copy\.db \(/);
  const jobs = inspect(proxyCopy, 'jobs');
  t.equal(jobs.integrity, 'ok');
  t.same(
    tickets.filter((id) => !jobs.ids.includes(id)),
    [],
    "every job is in the proxy's copy",
  );

  // restore: stop, put the copy in place of the file, drop the old WAL, start again
  c.close();
  t.equal(await node.proc.kill('SIGTERM'), 0, 'stopped');
  renameSync(dest, db);
  rmSync(`${db}-wal`, { force: true });
  rmSync(`${db}-shm`, { force: true });
  const restored = await spawnNode(t.teardown, proxy.port, nodeDir, { NODE_ID: 'keeper' });
  const c2 = await LineClient.connect(restored.port, t.teardown);
  for (const [ticket, view] of views) {
    t.equal(await c2.ask(`RESULT ${ticket}`), view, `${ticket} answers as before`);
  }
});
