import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_SCHEMA } from '../node/schema.js';
import { TicketStore } from '../node/ticket-store.js';
import { Committer, openDatabase, WAL_SIZE_LIMIT, type Db } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import { silentLogger } from '../shared/log.js';
import { convertOldFormat, pagesOf, Reclaim } from '../shared/reclaim.js';
import { RECLAIM_POLICY } from '../shared/reclaim-policy.js';

/**
 * What giving space back costs (shared/reclaim.ts):
 * 1. the hot path: a ticket's two commits (its insert, its result) on a file with and without
 *    incremental auto-vacuum (pointer-map pages to keep), rounds taken in turn;
 * 2. converting a file of an earlier release at start (a VACUUM), per 100 MB;
 * 3. a reclaim after a burst expired: its steps on the event loop and the file's size.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/reclaim-cost.js [--jobs 20000] [--mb 100]
 */

const { values: opts } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    mb: { type: 'string', default: '100' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const JOBS = Number(opts.jobs);
const MB = Number(opts.mb);
const root = mkdtempSync(join(opts.dir, 'petrel-reclaim-'));
const spec = JSON.stringify(JobSpecSchema.parse({ type: 'echo', args: ['x'.repeat(300)] }));
const output = 'y'.repeat(300);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** A node file with openDatabase's settings; `incremental` chooses the auto-vacuum mode. */
function nodeFile(name: string, incremental: boolean, sync: 'NORMAL' | 'FULL'): Db {
  const db = new Database(join(root, name));
  if (incremental) db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
  db.pragma(`synchronous = ${sync}`);
  db.exec(NODE_SCHEMA);
  return db;
}

/** `n` tickets, each inserted and finished in a commit of its own; µs per commit. */
function ticketCommits(db: Db, n: number, from: number): number {
  const insert = db.prepare(
    'INSERT OR IGNORE INTO tickets (id, spec, state, submitted_at) VALUES (?, ?, ?, ?)',
  );
  const finish = db.prepare(
    'UPDATE tickets SET state = ?, result = ?, finished_at = ?, here = ? WHERE id = ?',
  );
  const started = performance.now();
  for (let i = from; i < from + n; i++) {
    const id = newTicket(1_700_000_000_000 + i);
    insert.run(id, spec, 'accepted', i);
    finish.run('done', JSON.stringify({ id, state: 'done', output }), i, 1, id);
  }
  return ((performance.now() - started) * 1000) / (2 * n);
}

function hotPath(sync: 'NORMAL' | 'FULL', jobs: number): void {
  const rounds = 8;
  const per = Math.ceil(jobs / rounds);
  const files = {
    none: nodeFile(`none-${sync}.db`, false, sync),
    inc: nodeFile(`inc-${sync}.db`, true, sync),
  };
  const us = { none: [] as number[], inc: [] as number[] };
  ticketCommits(files.none, 500, 1e9); // warm-up: the statements compiled, the files opened
  ticketCommits(files.inc, 500, 1e9);
  for (let r = 0; r < rounds; r++) {
    // ABBA: a busy moment of a shared machine falls on both
    const order = r % 2 === 0 ? (['none', 'inc'] as const) : (['inc', 'none'] as const);
    for (const k of order) us[k].push(ticketCommits(files[k], per, r * per));
  }
  // the expiry's side of the same rows: chunks of 2000 deleted, each its own commit, a chunk
  // of each file in turn
  const chunk = (db: Db) =>
    db.prepare('DELETE FROM tickets WHERE id IN (SELECT id FROM tickets LIMIT 2000)');
  const chunks = { none: chunk(files.none), inc: chunk(files.inc) };
  const chunkMs = { none: [] as number[], inc: [] as number[] };
  const pages = (db: Db) => pagesOf(db).pageCount;
  const pagesBefore = { none: pages(files.none), inc: pages(files.inc) };
  for (let more = true; more;) {
    more = false;
    for (const k of ['none', 'inc'] as const) {
      const started = performance.now();
      if (chunks[k].run().changes === 2000) more = true;
      chunkMs[k].push(performance.now() - started);
    }
  }
  console.log(
    `hot path, synchronous=${sync}, ${rounds * per} tickets x 2 commits: ` +
      `auto_vacuum NONE ${median(us.none).toFixed(1)} us/commit ` +
      `(rounds ${us.none.map((x) => x.toFixed(1)).join(' ')}), ` +
      `INCREMENTAL ${median(us.inc).toFixed(1)} us/commit ` +
      `(rounds ${us.inc.map((x) => x.toFixed(1)).join(' ')}); ` +
      `pages ${pagesBefore.none} vs ${pagesBefore.inc}; an expiry chunk of 2000 rows ` +
      `${median(chunkMs.none).toFixed(1)} vs ${median(chunkMs.inc).toFixed(1)} ms (median)`,
  );
  files.none.close();
  files.inc.close();
}

/** Fills `db` with about `mb` MB of finished, reported tickets, `young` share of them recent. */
function fill(db: Db, mb: number, young: number): TicketStore {
  const committer = new Committer(db);
  const tickets = new TicketStore(db, committer);
  const n = Math.round((mb * 1e6) / 1000);
  const old = Date.now() - 7_200_000;
  const result = { state: 'done', exitCode: 0, output, node: 'n1', attempt: 1 };
  for (let i = 0; i < n; i++) {
    const at = i < n * (1 - young) ? old + i : Date.now() - n + i;
    const id = newTicket(at);
    tickets.insert(id, JSON.parse(spec), at, () => {});
    tickets.finish({ id, ...result, startedAt: at, finishedAt: at } as JobResult, true);
    if (i % 2000 === 1999) committer.flush();
  }
  committer.flush();
  committer.stop();
  return tickets;
}

function expire(tickets: TicketStore): void {
  while (tickets.expire(Date.now() - 3_600_000) > 0);
}

function conversion(mb: number, expired: boolean): void {
  const dir = mkdtempSync(join(root, 'conv-'));
  const old = new Database(join(dir, 'node.db'));
  old.pragma('journal_mode = WAL');
  old.exec(NODE_SCHEMA);
  const tickets = fill(old, mb, expired ? 0.1 : 1);
  if (expired) expire(tickets);
  old.pragma('wal_checkpoint(TRUNCATE)');
  old.close();
  const file = join(dir, 'node.db');
  const before = statSync(file).size;
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const live = (pagesOf(db).pageCount - pagesOf(db).freePages) * pagesOf(db).pageSize;
  const started = performance.now();
  convertOldFormat(db, { ...RECLAIM_POLICY, convertMaxBytes: Infinity });
  const ms = performance.now() - started;
  console.log(
    `conversion: file ${mib(before)} MiB with ${mib(live)} MiB of data: ${ms.toFixed(0)} ms ` +
      `(${((ms * 100 * 1024 * 1024) / before).toFixed(0)} ms per 100 MiB of file, ` +
      `${((ms * 100 * 1024 * 1024) / live).toFixed(0)} per 100 MiB of data), ` +
      `after ${mib(statSync(file).size)} MiB, auto_vacuum ${db.pragma('auto_vacuum', { simple: true })}`,
  );
  db.close();
}

async function reclaimAfterBurst(mb: number, durability: 'fsync' | 'relaxed'): Promise<void> {
  const dir = mkdtempSync(join(root, 'burst-'));
  const db = openDatabase(dir, 'node.db', durability, NODE_SCHEMA);
  const file = join(dir, 'node.db');
  const tickets = fill(db, mb, 0.05);
  expire(tickets);
  db.pragma('wal_checkpoint(PASSIVE)');
  const before = statSync(file).size;
  const steps: number[] = [];
  const later = (fn: () => void) =>
    setImmediate(() => {
      const started = performance.now();
      fn();
      steps.push(performance.now() - started);
    });
  const started = performance.now();
  const freed = await new Promise<number>((resolve) =>
    new Reclaim(db, silentLogger(), { later }).run(resolve),
  );
  const total = performance.now() - started;
  const sorted = [...steps].sort((a, b) => a - b);
  console.log(
    `reclaim (${durability}): file ${mib(before)} -> ${mib(statSync(file).size)} MiB ` +
      `(${mib(freed)} MiB freed) in ${total.toFixed(0)} ms over ${steps.length} turns; ` +
      `turn p50 ${median(steps).toFixed(2)} ms, p99 ${(sorted[Math.floor(sorted.length * 0.99)] ?? 0).toFixed(2)} ms, ` +
      `max ${(sorted.at(-1) ?? 0).toFixed(2)} ms; WAL ${mib(statSync(`${file}-wal`).size)} MiB`,
  );
  db.close();
}

try {
  hotPath('NORMAL', JOBS);
  hotPath('FULL', Math.min(JOBS, 4000));
  conversion(MB, false);
  conversion(MB, true);
  await reclaimAfterBurst(MB, 'fsync');
  await reclaimAfterBurst(MB, 'relaxed');
} finally {
  rmSync(root, { recursive: true, force: true });
}
