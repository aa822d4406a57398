import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize, type Summary } from './stats.js';

/**
 * The floor every durable promise stands on: one SQLite commit with the settings of
 * `DURABILITY=fsync` (WAL, synchronous=FULL), one small row per commit, on the disk the
 * benchmark's clusters use. Petrel's latencies are reported as multiples of it.
 */
export function measureCommitFloor(commits = 500, dir = tmpdir()): Summary {
  const root = mkdtempSync(join(dir, 'petrel-floor-'));
  const db = new Database(join(root, 'floor.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const samples = new Float64Array(commits);
    for (let i = 0; i < 50; i++) insert.run('warm-up');
    for (let i = 0; i < commits; i++) {
      const t0 = performance.now();
      insert.run(`row ${i}`);
      samples[i] = performance.now() - t0;
    }
    return summarize(samples);
  } finally {
    db.close();
    rmSync(root, { recursive: true, force: true });
  }
}
