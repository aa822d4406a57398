import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { NODE_SCHEMA_VERSION } from '../node/schema.js';
import { PROXY_SCHEMA_VERSION } from '../proxy/schema.js';
import { openDatabase } from '../shared/db.js';
import { PetrelError } from '../shared/errors.js';
import { newerFileMessage, schemaAction } from '../shared/schema-version.js';
import { startOnDataDir, tempDir } from './helpers/cluster.js';
import { within } from './helpers/settle.js';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);';
const OURS = 3;

/** A file as another release left it: `version` in its header, one row in `t`. */
function writeFile(file: string, version: number): void {
  const db = new Database(file);
  db.exec(`${SCHEMA} INSERT INTO t (v) VALUES ('kept');`);
  db.pragma(`user_version = ${version}`);
  db.close();
}

/** What a file holds, read without changing it. */
function inspect(file: string): {
  version: number;
  journal: string;
  tables: string[];
  rows: string[];
} {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    const journal = db.pragma('journal_mode', { simple: true }) as string;
    const tables = (
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
    const rows = (db.prepare('SELECT v FROM t ORDER BY k').all() as Array<{ v: string }>).map(
      (r) => r.v,
    );
    return { version, journal, tables, rows };
  } finally {
    db.close();
  }
}

t.test('what a file version means for this release', (t) => {
  t.equal(schemaAction(0, 1, false), 'create', 'a new file');
  t.equal(schemaAction(0, 1, true), 'upgrade', 'a file from before versions');
  t.equal(schemaAction(1, 2, true), 'upgrade', 'an older release');
  t.equal(schemaAction(2, 2, true), 'same');
  t.equal(schemaAction(3, 2, true), 'newer', 'a newer release: refused');
  t.equal(schemaAction(-1, 2, true), 'invalid', 'no release writes a negative version');
  t.throws(() => schemaAction(0, 0, true), RangeError, 'a release has a version of at least 1');
  t.ok(NODE_SCHEMA_VERSION >= 1 && PROXY_SCHEMA_VERSION >= 1, 'both kinds have a version');
  t.equal(
    newerFileMessage('/data/node.db', 2, 1),
    'database file /data/node.db was written by a newer release of Petrel (schema 2; this ' +
      'release reads up to 1): run that release or a later one, or restore a backup made by ' +
      'this release',
  );
  t.end();
});

t.test('a new file gets this release version', (t) => {
  const dir = tempDir(t.teardown);
  openDatabase(dir, 'node.db', 'relaxed', SCHEMA, { schemaVersion: OURS }).close();
  t.equal(inspect(join(dir, 'node.db')).version, OURS);
  t.end();
});

t.test('a file from before versions, or an older one, is upgraded and keeps its data', (t) => {
  for (const before of [0, OURS - 1]) {
    const dir = tempDir(t.teardown);
    const file = join(dir, 'node.db');
    writeFile(file, before);
    const db = openDatabase(dir, 'node.db', 'relaxed', SCHEMA, { schemaVersion: OURS });
    db.prepare('INSERT INTO t (v) VALUES (?)').run('new');
    db.close();
    const after = inspect(file);
    t.equal(after.version, OURS, `version ${before} becomes ${OURS}`);
    t.same(after.rows, ['kept', 'new'], 'its rows are kept');
    // opened again: the same version, nothing to do
    openDatabase(dir, 'node.db', 'relaxed', SCHEMA, { schemaVersion: OURS }).close();
    t.equal(inspect(file).version, OURS);
  }
  t.end();
});

t.test('a file from a newer release is refused, untouched, naming it and both versions', (t) => {
  const dir = tempDir(t.teardown);
  const file = join(dir, 'node.db');
  writeFile(file, OURS + 1);
  const before = inspect(file);
  let err: unknown;
  try {
    // a schema that would add a table and change a row, were it run
    openDatabase(
      dir,
      'node.db',
      'relaxed',
      `${SCHEMA} CREATE TABLE IF NOT EXISTS more (x); UPDATE t SET v = 'changed';`,
      { schemaVersion: OURS },
    ).close();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof PetrelError)) {
    t.fail(`refused as a start-up error, not ${String(err)}`);
    return t.end();
  }
  const e = err;
  t.equal(e.code, 'ERR_DB_NEWER', 'of its own code, not ERR_DB_UNREADABLE');
  t.equal(e.message, newerFileMessage(file, OURS + 1, OURS));
  t.match(e.message, file, 'names the file');
  t.match(e.message, `schema ${OURS + 1}; this release reads up to ${OURS}`, 'both versions');
  t.notMatch(e.message, /corrupt|move it aside/, 'no advice that would lose its data');
  t.notMatch(e.message, /\n/, 'one line');
  t.equal(before.journal, 'delete', 'a file not yet in WAL mode');
  t.same(inspect(file), before, 'its version, journal mode, tables and rows are as they were');
  t.end();
});

t.test('a version no release writes is reported as unreadable', (t) => {
  const dir = tempDir(t.teardown);
  writeFile(join(dir, 'node.db'), -1);
  t.throws(() => openDatabase(dir, 'node.db', 'relaxed', SCHEMA, { schemaVersion: OURS }), {
    code: 'ERR_DB_UNREADABLE',
    message: /schema version -1/,
  });
  t.end();
});

t.test('a node or proxy on a newer release file exits with one line saying so', async (t) => {
  for (const which of ['node', 'proxy'] as const) {
    const dir = tempDir(t.teardown);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${which}.db`);
    writeFile(file, 99);
    const p = startOnDataDir(which, dir, t.teardown);
    // a start takes seconds on a loaded machine; a process that starts on the file runs on
    const code = await within(p.exited, 20_000, `${which} to exit`);
    t.equal(code, 1, `${which} exits with code 1`);
    t.equal(p.child.signalCode, null, 'not by a signal');
    const lines = p.output.filter((l) => l.includes('ERR_DB_NEWER'));
    t.equal(lines.length, 1, 'one line');
    const ours = which === 'node' ? NODE_SCHEMA_VERSION : PROXY_SCHEMA_VERSION;
    t.equal(
      lines[0],
      `petrel-${which}: ERR_DB_NEWER: ${newerFileMessage(file, 99, ours)}`,
      'naming the file and both versions',
    );
    t.equal(inspect(file).version, 99, 'the file keeps its version');
    t.same(inspect(file).tables, ['t'], 'and gets none of this release tables');
  }
});
