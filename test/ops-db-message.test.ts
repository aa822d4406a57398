import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDatabase } from '../shared/db.js';
import { tempDir } from './helpers/cluster.js';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT);';

t.test('a database corrupt inside is reported in one line naming the file', (t) => {
  const dir = tempDir(t.teardown);
  const file = join(dir, 'node.db');
  const db = openDatabase(dir, 'node.db', 'relaxed', SCHEMA);
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 2000; i++) insert.run('x'.repeat(100));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  // pages 2 and 3 (of 4 KiB) overwritten: the header reads, the b-tree does not
  const fd = openSync(file, 'r+');
  writeSync(fd, randomBytes(2 * 4096), 0, 2 * 4096, 2 * 4096);
  closeSync(fd);
  let message = '';
  try {
    openDatabase(dir, 'node.db', 'relaxed', SCHEMA).close();
  } catch (err) {
    message = (err as Error).message;
  }
  t.match(message, `database file ${file} is unreadable or corrupt`);
  t.notMatch(message, /\n/, 'one line');
  t.end();
});
