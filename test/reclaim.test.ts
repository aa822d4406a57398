import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import t from 'tap';
import { NODE_SCHEMA } from '../node/schema.js';
import { TicketStore } from '../node/ticket-store.js';
import { Committer, openDatabase, walWorkingSize, type Db } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import { convertOldFormat, pagesOf, Reclaim } from '../shared/reclaim.js';
import { RECLAIM_POLICY } from '../shared/reclaim-policy.js';
import { tempDir } from './helpers/cluster.js';

const HOUR = 3_600_000;
const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'.repeat(300)] });

/** A logger keeping its lines for the test to read. */
function capture() {
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { log, lines };
}

/** `n` finished, reported tickets `HOUR`s old, then `young` fresh ones; returns their ids. */
function fillTickets(db: Db, n: number, young: number): { tickets: TicketStore; kept: string[] } {
  const committer = new Committer(db);
  const tickets = new TicketStore(db, committer);
  const old = Date.now() - 2 * HOUR;
  const kept: string[] = [];
  for (let i = 0; i < n + young; i++) {
    const at = i < n ? old + i : Date.now() - 1000 + i;
    const id = newTicket(at);
    if (i >= n) kept.push(id);
    tickets.insert(id, spec, at, () => {});
    const r = { state: 'done', exitCode: 0, output: 'y'.repeat(300), node: 'n1', attempt: 1 };
    tickets.finish({ id, ...r, startedAt: at, finishedAt: at + 1 } as JobResult, true);
    if (i % 1000 === 999) committer.flush();
  }
  committer.flush();
  committer.stop();
  return { tickets, kept };
}

/** Deletes the old tickets in chunks, as the expiry does. */
function expire(tickets: TicketStore): number {
  let total = 0;
  for (let n = -1; n !== 0; total += n) n = tickets.expire(Date.now() - HOUR);
  return total;
}

/** Runs a reclaim on the event loop, as the process does; resolves with the bytes freed. */
function reclaimed(r: Reclaim): Promise<number> {
  return new Promise((resolve) => r.run(resolve));
}

const size = (file: string) => statSync(file).size;
const autoVacuum = (db: Db) => db.pragma('auto_vacuum', { simple: true });

t.test('a node file gives the pages of expired tickets back to the disk', async (t) => {
  const dir = tempDir(t.teardown);
  const file = join(dir, 'node.db');
  const db = openDatabase(dir, 'node.db', 'fsync', NODE_SCHEMA);
  t.teardown(() => db.close());
  t.equal(autoVacuum(db), 2, 'made with incremental auto-vacuum');
  const { tickets, kept } = fillTickets(db, 24_000, 1000);
  db.pragma('wal_checkpoint(PASSIVE)');
  const full = size(file);
  t.equal(expire(tickets), 24_000);
  db.pragma('wal_checkpoint(PASSIVE)');
  t.equal(size(file), full, 'deleting alone gives nothing back');

  const { log, lines } = capture();
  const freed = await reclaimed(new Reclaim(db, log));
  const after = size(file);
  t.comment(`node.db: ${full} bytes full, ${after} after the reclaim (${freed} freed)`);
  t.ok(after < full / 2, `the file shrank: ${full} -> ${after} bytes`);
  t.ok(freed >= full - after, 'what it says it freed left the file');
  const { freePages, pageSize } = pagesOf(db);
  t.ok(freePages * pageSize <= RECLAIM_POLICY.minKeepBytes, 'it keeps a little free space');
  t.ok(size(`${file}-wal`) >= walWorkingSize(db), 'the WAL keeps its presized length');
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  t.equal(tickets.recent(2000).length, 1000, 'the young tickets are all there');
  t.ok(
    kept.every((id) => tickets.get(id)?.result?.output === 'y'.repeat(300)),
    'with their results',
  );
  t.equal(lines.length, 1);
  t.match(lines[0], { msg: 'gave free pages back to the disk', file, freedBytes: freed });
  t.equal(await reclaimed(new Reclaim(db, log)), 0, 'a second reclaim finds nothing to do');
});

t.test('a reclaim steps on later turns and stops when asked or when writes are barred', (t) => {
  const dir = tempDir(t.teardown);
  const db = openDatabase(dir, 'node.db', 'relaxed', NODE_SCHEMA);
  t.teardown(() => db.close());
  expire(fillTickets(db, 16_000, 10).tickets);
  const queue: Array<() => void> = [];
  let may = true;
  const r = new Reclaim(db, pino({ level: 'silent' }), {
    later: (fn) => queue.push(fn),
    mayWrite: () => may,
  });
  const before = pagesOf(db).pageCount;
  r.run(() => t.fail('never done'));
  t.ok(r.busy);
  t.equal(pagesOf(db).pageCount, before, 'nothing freed on the turn that asked');
  queue.shift()?.();
  const step = before - pagesOf(db).pageCount;
  t.equal(step, RECLAIM_POLICY.stepBytes / pagesOf(db).pageSize, 'one step of 256 KiB');
  r.run(() => t.fail('not started twice'));
  t.equal(queue.length, 1);
  may = false;
  queue.shift()?.();
  t.equal(queue.length, 0, 'a process that may not write stops');
  t.notOk(r.busy);
  may = true;
  r.run(() => t.fail('never done'));
  r.stop();
  queue.shift()?.();
  t.equal(queue.length, 0, 'a stopped reclaim runs no step');
  t.equal(before - pagesOf(db).pageCount, step, 'nothing more was freed');
  t.end();
});

/** A node file as an earlier release made it (no auto-vacuum): `rows` tickets, all expired. */
function oldFile(dir: string, rows: number): void {
  const db = openOld(dir);
  expire(fillTickets(db, rows, 10).tickets);
  db.close();
}

/** Opens a file without converting it, as an earlier release would. */
function openOld(dir: string): Db {
  const db = new Database(join(dir, 'node.db'));
  db.pragma('journal_mode = WAL');
  db.exec(NODE_SCHEMA);
  return db;
}

t.test('an old file small enough is converted at start, and shrinks from then on', async (t) => {
  const dir = tempDir(t.teardown);
  const file = join(dir, 'node.db');
  oldFile(dir, 12_000);
  const full = size(file);
  const old = openOld(dir);
  t.equal(autoVacuum(old), 0, 'the old format');
  old.close();
  const db = openDatabase(dir, 'node.db', 'fsync', NODE_SCHEMA);
  t.teardown(() => db.close());
  t.equal(autoVacuum(db), 2, 'converted');
  t.ok(size(file) < full / 3, `the conversion compacted it: ${full} -> ${size(file)} bytes`);
  t.ok(size(`${file}-wal`) >= walWorkingSize(db), 'the WAL presized again after the rewrite');
  t.ok(size(`${file}-wal`) <= 2 * walWorkingSize(db), 'not left at the size of the rewrite');
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const tickets = new TicketStore(db, new Committer(db));
  t.equal(tickets.recent(100).length, 10, 'the tickets left are all there');

  const { log, lines } = capture();
  const reclaim = new Reclaim(db, log);
  t.match(lines[0], { level: 30, msg: /converted the database file/, file }, 'said once');
  new Reclaim(db, log);
  t.equal(lines.length, 1, 'not twice');
  expire(fillTickets(db, 24_000, 0).tickets);
  db.pragma('wal_checkpoint(PASSIVE)');
  const grown = size(file);
  t.ok((await reclaimed(reclaim)) > 0);
  t.ok(size(file) < grown / 2, `it shrinks now: ${grown} -> ${size(file)} bytes`);
});

t.test('an old file too large to convert at start is served as it is, and said so', async (t) => {
  const dir = tempDir(t.teardown);
  const file = join(dir, 'node.db');
  oldFile(dir, 12_000);
  const db = openOld(dir);
  t.teardown(() => db.close());
  t.equal(autoVacuum(db), 0, 'the old format');
  const started = Date.now();
  // a limit below the little data it holds stands for a file of gigabytes
  convertOldFormat(db, { ...RECLAIM_POLICY, convertMaxBytes: 1024 });
  t.ok(Date.now() - started < 1000, 'no VACUUM ran');
  t.equal(autoVacuum(db), 0, 'left as it was');
  const { freePages } = pagesOf(db);
  t.ok(freePages > 1000, 'the free pages stay in it');

  const { log, lines } = capture();
  const reclaim = new Reclaim(db, log);
  t.match(lines[0], {
    level: 40,
    file,
    fileBytes: size(file),
    freePages,
    msg: /without incremental auto-vacuum \(too large to convert at start\): it never shrinks/,
  });
  t.match(lines[0]?.msg, `run: sqlite3 ${file} "PRAGMA auto_vacuum = INCREMENTAL; VACUUM"`);
  new Reclaim(db, log);
  t.equal(lines.length, 1, 'one line per start');
  const before = size(file);
  t.equal(await reclaimed(reclaim), 0, 'nothing to reclaim without auto-vacuum');
  t.equal(size(file), before);
  t.equal(tickets(db), 10, 'the data is intact');
});

const tickets = (db: Db) =>
  (db.prepare('SELECT count(*) AS n FROM tickets').get() as { n: number }).n;
