import { readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { NODE_SCHEMA_VERSION } from '../node/schema.js';
import { backupCommand, writeBackup } from '../shared/backup-copy.js';
import {
  backupLine,
  backupRequest,
  destinationProblem,
  formatSize,
  sourceProblem,
  versionProblem,
  type PathFacts,
} from '../shared/backup.js';
import { newerFileMessage } from '../shared/schema-version.js';
import { tempDir } from './helpers/cluster.js';

t.test('--backup takes one file; every other use is told in one line', async (t) => {
  const who = 'petrel-node';
  t.same(backupRequest(['--backup', 'b.db'], who), { file: 'b.db' });
  t.same(backupRequest(['--backup=/x/b.db'], who), { file: '/x/b.db' });
  const needs = {
    problem: '--backup needs the path of the file to write: petrel-node --backup <file>',
  };
  t.same(backupRequest(['--backup'], who), needs, 'no file');
  t.same(backupRequest(['--backup='], who), needs, 'an empty file');
  t.same(backupRequest(['--backup', ''], who), needs);
  t.same(backupRequest(['--backup', '--port'], who), needs, 'an option is not a file');
  for (const argv of [
    ['--backup', 'b.db', 'extra'],
    ['proxyhost', '--backup', 'b.db'],
    ['--backup=b.db', '8080'],
  ]) {
    t.match(
      backupRequest(argv, who),
      { problem: /^--backup takes one file and no other arguments .*environment variables/ },
      argv.join(' '),
    );
  }
});

t.test('without --backup, the arguments are read as before', async (t) => {
  for (const argv of [
    [],
    ['8081'],
    ['localhost', '8080'],
    ['--port', '1'],
    ['-1'],
    ['--backupx'],
  ]) {
    t.equal(backupRequest(argv, 'petrel-proxy'), undefined, argv.join(' '));
  }
  t.equal(backupRequest(['--backup', 'b.db', '--help'], 'x'), undefined, '--help wins');
  t.equal(backupRequest(['-h', '--backup'], 'x'), undefined);
});

/** A file system of these files and directories; `readOnly` directories take no new files. */
function facts(files: string[], dirs: string[], readOnly: string[] = []): PathFacts {
  return {
    exists: (p) => files.includes(p) || dirs.includes(p),
    isDirectory: (p) => dirs.includes(p),
    writable: (p) => dirs.includes(p) && !readOnly.includes(p),
  };
}

t.test('the destination: a new file in a directory this user can write', async (t) => {
  const fs = facts(['/b/old.db', '/b/file'], ['/', '/b', '/ro'], ['/ro']);
  t.equal(destinationProblem('/b/new.db', fs), undefined);
  const told = (dest: string) => {
    const e = destinationProblem(dest, fs);
    return e ? `${e.code}: ${e.message}` : 'accepted';
  };
  t.equal(
    told('/b/old.db'),
    'ERR_BACKUP: /b/old.db already exists: a backup never overwrites a file; name a new one, ' +
      'or move that one away first',
  );
  t.match(told('/b'), /^ERR_BACKUP: \/b already exists/, 'a directory is not overwritten either');
  t.equal(
    told('/missing/new.db'),
    'ERR_BACKUP: the directory /missing does not exist: create it, or name a file elsewhere',
  );
  t.match(told('/b/file/new.db'), /^ERR_BACKUP: \/b\/file is not a directory/);
  t.match(told('/ro/new.db'), /^ERR_BACKUP: cannot create files in \/ro \(permission denied\)/);
});

t.test('the source: the file in DATA_DIR, said to be the process’s own', async (t) => {
  const fs = facts(['/data/node.db'], ['/data', '/data/dir.db']);
  t.equal(sourceProblem('/data/node.db', '/data', 'petrel-node', fs), undefined);
  const e = sourceProblem('/else/node.db', '/else', 'petrel-node', fs);
  t.equal(e?.code, 'ERR_DATA_DIR');
  t.match(
    e?.message,
    /^no database at \/else\/node\.db: DATA_DIR \(\/else\) must be the one the petrel-node to back up uses/,
  );
  t.ok(sourceProblem('/data/dir.db', '/data', 'petrel-node', fs), 'a directory is no database');
});

t.test('a file of a newer release is refused as the process refuses it', async (t) => {
  t.equal(versionProblem('/d/node.db', 1, 1), undefined);
  t.equal(versionProblem('/d/node.db', 0, 1), undefined, 'from before versions');
  const e = versionProblem('/d/node.db', 7, 1);
  t.equal(e?.code, 'ERR_DB_NEWER');
  t.equal(e?.message, newerFileMessage('/d/node.db', 7, 1));
  t.equal(versionProblem('/d/node.db', -3, 1)?.code, 'ERR_DB_UNREADABLE');
});

t.test('sizes and the success line', async (t) => {
  t.equal(formatSize(0), '0 B');
  t.equal(formatSize(1023), '1023 B');
  t.equal(formatSize(1536), '1.5 KiB');
  t.equal(formatSize(292_814_848), '279.3 MiB');
  t.equal(formatSize(3 * 1024 ** 3), '3.0 GiB');
  t.equal(
    backupLine('petrel-proxy', '/d/proxy.db', '/b/x.db', 4096, 1),
    'petrel-proxy: backup of /d/proxy.db written to /b/x.db (4.0 KiB, schema 1)',
  );
});

/** A WAL file as a process keeps it, with `rows` rows and schema `version`; still open. */
function liveFile(file: string, rows: number, version: number): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE tickets (id TEXT PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT INTO tickets VALUES (?, ?)');
  for (let i = 0; i < rows; i++) insert.run(`t${i}`, 'x'.repeat(100));
  db.pragma(`user_version = ${version}`);
  return db;
}

t.test('a copy of a file another connection keeps open, with its last commits', async (t) => {
  const dir = tempDir(t.teardown);
  const owner = liveFile(join(dir, 'node.db'), 500, NODE_SCHEMA_VERSION);
  t.teardown(() => owner.close());
  // still in the WAL, not yet in the file: the copy must hold it
  owner.prepare('INSERT INTO tickets VALUES (?, ?)').run('last', 'in the wal');
  const dest = join(dir, 'copy.db');
  const target = { dataDir: dir, fileName: 'node.db', schemaVersion: NODE_SCHEMA_VERSION };
  const line = writeBackup('petrel-node', target, dest);
  t.match(
    line,
    /^petrel-node: backup of .*node\.db written to .*copy\.db \(\d+\.\d KiB, schema 1\)$/,
  );
  const copy = new Database(dest, { readonly: true });
  t.equal((copy.prepare('SELECT count(*) AS n FROM tickets').get() as { n: number }).n, 501);
  t.equal(copy.pragma('user_version', { simple: true }), NODE_SCHEMA_VERSION);
  copy.close();
  t.same(
    readdirSync(dir).filter((f) => f.includes('partial')),
    [],
    'no temporary file left behind',
  );

  // again to the same file: refused, the copy untouched
  const before = readFileSync(dest);
  const err: string[] = [];
  const code = backupCommand('petrel-node', { file: dest }, () => target, {
    stdout: () => t.fail('nothing on stdout'),
    stderr: (text) => err.push(text),
  });
  t.equal(code, 1);
  t.match(err.join(''), /^petrel-node: ERR_BACKUP: .*copy\.db already exists/);
  t.ok(readFileSync(dest).equals(before), 'the existing file is untouched');
});

t.test('a file of a newer release: refused, nothing written', async (t) => {
  const dir = tempDir(t.teardown);
  liveFile(join(dir, 'proxy.db'), 3, 9).close();
  const dest = join(dir, 'copy.db');
  const target = { dataDir: dir, fileName: 'proxy.db', schemaVersion: 1 };
  t.throws(() => writeBackup('petrel-proxy', target, dest), {
    code: 'ERR_DB_NEWER',
    message: newerFileMessage(join(dir, 'proxy.db'), 9, 1),
  });
  t.throws(() => statSync(dest), { code: 'ENOENT' }, 'no file made');
});

t.test('a usage problem is exit code 2, a refusal 1, each one line on stderr', async (t) => {
  const err: string[] = [];
  const out = { stdout: () => t.fail('nothing on stdout'), stderr: (s: string) => err.push(s) };
  const never = () => {
    throw new Error('settings read for a usage problem');
  };
  t.equal(backupCommand('petrel-proxy', { problem: 'bad' }, never, out), 2);
  t.same(err, ['petrel-proxy: bad\n']);
  const dir = tempDir(t.teardown);
  err.length = 0;
  const target = () => ({ dataDir: dir, fileName: 'absent.db', schemaVersion: 1 });
  t.equal(backupCommand('petrel-proxy', { file: join(dir, 'b.db') }, target, out), 1);
  t.equal(err.length, 1);
  t.match(err[0], /^petrel-proxy: ERR_DATA_DIR: no database at .*absent\.db/);
  t.notMatch(err[0], /\n./, 'one line');
});

t.test('a file that is no database: told, nothing written', async (t) => {
  const dir = tempDir(t.teardown);
  writeFileSync(join(dir, 'node.db'), 'not a database, '.repeat(100));
  const dest = join(dir, 'copy.db');
  const target = { dataDir: dir, fileName: 'node.db', schemaVersion: 1 };
  t.throws(() => writeBackup('petrel-node', target, dest), {
    code: 'ERR_DB_UNREADABLE',
    message: /^cannot read the database file .*node\.db \(file is not a database\)/,
  });
  t.throws(() => statSync(dest), { code: 'ENOENT' }, 'no file made');
});
