import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { freePort, LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

/**
 * A full disk for real: DATA_DIR on a small tmpfs, filled by another file. Needs root (mount).
 */

function mountTmpfs(teardown: (fn: () => unknown) => void, mb: number): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = tempDir(teardown, 'petrel-disk-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  teardown(() => execFileSync('umount', ['-l', dir], { stdio: 'ignore' }));
  return dir;
}

const canMount = (() => {
  const undo: Array<() => unknown> = [];
  const dir = mountTmpfs((fn) => undo.push(fn), 1);
  for (const fn of undo.reverse()) fn();
  return dir !== undefined;
})();
const skip = canMount ? false : 'needs root to mount a tmpfs (CI runs as root)';

/** Fills the file system holding `dir` with `filler` until no byte fits. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  for (const size of [1 << 20, 1 << 16, 1 << 12, 512]) {
    const chunk = Buffer.alloc(size, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOSPC') throw err;
    }
  }
  closeSync(fd);
  return filler;
}

const big = 'x'.repeat(16_000);

t.test(
  'a node’s disk full: SUBMIT refused naming it, tickets answer, work again by itself',
  { skip },
  async (t) => {
    const disk = mountTmpfs(t.teardown, 16) as string;
    const dataDir = join(disk, 'node');
    mkdirSync(dataDir);
    const proxy = await spawnProxy(t.teardown, tempDir(t.teardown));
    const httpPort = await freePort();
    const a = await spawnNode(t.teardown, proxy.port, dataDir, {
      NODE_ID: 'a',
      DURABILITY: 'fsync',
      HTTP_PORT: String(httpPort),
    });
    const readyz = async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status;
    t.equal(await readyz(), 200, 'ready for clients');
    await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'b' });
    const c = await LineClient.connect(a.port, t.teardown);
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) acked.push((await c.ask(`SUBMIT echo before ${i}`)).slice(3));
    const filler = fill(disk);
    let refusal = '';
    for (let i = 0; i < 2000 && !refusal; i++) {
      const r = await c.ask(`SUBMIT echo ${big}`);
      if (r.startsWith('OK ')) acked.push(r.slice(3));
      else refusal = r;
    }
    t.match(refusal, /^ERR UNAVAILABLE the disk holding .*node is full/, 'SUBMIT names the disk');
    t.match(
      await c.ask('SUBMIT echo still full'),
      /^ERR UNAVAILABLE the disk/,
      'and keeps saying so',
    );
    t.equal(await readyz(), 503, 'not ready for clients while full: they go to other nodes');
    for (const tk of acked.slice(0, 20)) {
      t.match(await c.ask(`WAIT ${tk} 20000`), /"state":"done"/, 'an issued ticket answers');
    }
    const freedAt = Date.now();
    rmSync(filler);
    const again = await until(
      async () => {
        const r = await c.ask('SUBMIT echo space again');
        return r.startsWith('OK ') ? r.slice(3) : undefined;
      },
      20_000,
      'the node to take work again',
    );
    t.comment(
      `disk full (node): SUBMIT taken again ${Date.now() - freedAt} ms after space returned`,
    );
    acked.push(again);
    t.equal(await readyz(), 200, 'ready again');
    let done = 0;
    for (const tk of acked)
      if ((await c.ask(`WAIT ${tk} 30000`)).includes('"state":"done"')) done++;
    t.equal(done, acked.length, `all ${acked.length} acknowledged tickets finished`);
    a.proc.child.kill('SIGTERM');
    t.equal(await a.proc.exited, 0, 'stops cleanly');
    t.notMatch(a.proc.output.join('\n'), /"level":60/, 'no fatal error was logged');
    const db = new Database(join(dataDir, 'node.db'), { readonly: true });
    t.teardown(() => db.close());
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the database is not corrupt');
    const has = db.prepare('SELECT state FROM tickets WHERE id = ?');
    const missing = acked.filter((tk) => !has.get(tk));
    t.same(missing, [], 'every acknowledged ticket is in the file');
  },
);

t.test(
  'the proxy’s disk full: commits wait, nothing is refused or lost, it resumes by itself',
  { skip },
  async (t) => {
    const disk = mountTmpfs(t.teardown, 16) as string;
    const dataDir = join(disk, 'proxy');
    mkdirSync(dataDir);
    const proxy = await spawnProxy(t.teardown, dataDir, { DURABILITY: 'fsync' });
    // every job goes through the proxy, whose disk this is about
    const a = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), {
      NODE_ID: 'a',
      LOCAL_START: '0',
    });
    const c = await LineClient.connect(a.port, t.teardown);
    const tickets: string[] = [];
    for (let i = 0; i < 20; i++) tickets.push((await c.ask(`SUBMIT echo before ${i}`)).slice(3));
    for (const tk of tickets) t.match(await c.ask(`WAIT ${tk} 20000`), /"state":"done"/);
    const filler = fill(disk);
    const api = async () =>
      (await (await fetch(`http://127.0.0.1:${proxy.port}/api/cluster`)).json()) as {
        diskFull: boolean;
        totals: Record<string, number>;
      };
    for (let i = 0; i < 2000 && !(await api()).diskFull; i++) {
      const r = await c.ask(`SUBMIT echo ${big}`);
      t.match(r, /^OK /, 'the node still issues tickets: it keeps them itself');
      tickets.push(r.slice(3));
    }
    t.ok((await api()).diskFull, 'the proxy says its disk is full');
    t.match(await c.ask(`RESULT ${tickets[0]}`), /"state":"done"/, 'finished tickets answer');
    const late = (await c.ask('SUBMIT echo while the proxy is full')).slice(3);
    tickets.push(late);
    c.write(`WAIT ${late} 60000\n`);
    const freedAt = Date.now();
    rmSync(filler);
    t.match(await c.next(60_000), /"state":"done"/, 'a job submitted while full finishes');
    t.comment(
      `disk full (proxy): a waiting job finished ${Date.now() - freedAt} ms after space returned`,
    );
    let done = 0;
    for (const tk of tickets)
      if ((await c.ask(`WAIT ${tk} 30000`)).includes('"state":"done"')) done++;
    t.equal(done, tickets.length, `all ${tickets.length} tickets finished`);
    const s = await api();
    t.notOk(s.diskFull);
    t.equal(s.totals.submitted, tickets.length, 'each job recorded once');
    t.equal(s.totals.done, tickets.length, 'each result recorded once');
    proxy.proc.child.kill('SIGTERM');
    t.equal(await proxy.proc.exited, 0, 'stops cleanly');
    t.notMatch(proxy.proc.output.join('\n'), /"level":60/, 'no fatal error was logged');
    const db = new Database(join(dataDir, 'proxy.db'), { readonly: true });
    t.teardown(() => db.close());
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the database is not corrupt');
  },
);
