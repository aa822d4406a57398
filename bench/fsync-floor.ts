import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walWorkingSize } from '../shared/db.js';
import { presizeWal } from '../shared/wal-sync.js';
import { summarize, type Summary } from './stats.js';

/**
 * The floor every durable promise stands on: one SQLite commit with the settings of
 * `DURABILITY=fsync` (WAL, synchronous=FULL, the WAL at its working size from the start, as
 * Petrel's), one small row per commit, on the disk the benchmark's clusters use. Petrel's
 * latencies are reported as multiples of it.
 */
export function measureCommitFloor(commits = 500, dir = tmpdir()): Summary {
  const { commit, close } = floorTable(dir);
  try {
    const samples = new Float64Array(commits);
    for (let i = 0; i < commits; i++) samples[i] = commit();
    return summarize(samples);
  } finally {
    close();
  }
}

/**
 * The same commit, one at each of `arrivals` (ms from the start), the process idle between:
 * what one commit costs at a light load's pacing, when the disk and the CPU were idle before
 * it, as they are for Petrel's light-load requests (the back-to-back floor never is).
 */
export async function measurePacedFloor(
  arrivals: readonly number[],
  dir = tmpdir(),
): Promise<Summary> {
  const { commit, close } = floorTable(dir);
  try {
    const samples = new Float64Array(arrivals.length);
    const start = performance.now();
    for (const [i, at] of arrivals.entries()) {
      const wait = at - (performance.now() - start);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      samples[i] = commit();
    }
    return summarize(samples);
  } finally {
    close();
  }
}

/** A fresh table with `DURABILITY=fsync`'s settings, warmed up; `commit` times one insert. */
function floorTable(dir: string): { commit: () => number; close: () => void } {
  const root = mkdtempSync(join(dir, 'petrel-floor-'));
  const db = new Database(join(root, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 50; i++) insert.run('warm-up');
  // commits write over the WAL instead of growing it, as in Petrel (see `presizeWal`)
  presizeWal(join(root, 'floor.db-wal'), walWorkingSize(db));
  return {
    commit: () => {
      const t0 = performance.now();
      insert.run('row');
      return performance.now() - t0;
    },
    close: () => {
      db.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
