import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LIST_BOUNDS } from '../proxy/job-pages.js';
import { fromRaw, type Raw } from '../proxy/job-rows.js';
import { JobStore, type ListFilter } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';

/**
 * What one `GET /api/jobs` reads on the event loop in a proxy.db of many jobs (a week's worth,
 * tickets sorting by time; 96% of the default tenant, 4% of `acme`, one old job of `rare`, 0.1%
 * failed): the statement before pages (it read until it had `limit`) against the paged list.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/job-list.js [--jobs 1000000]
 */

const { values: opts } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000000' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const N = Number(opts.jobs);
const root = mkdtempSync(join(opts.dir, 'petrel-job-list-'));

function fill(): void {
  const db = new Database(join(root, 'proxy.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec(PROXY_SCHEMA);
  const insert = db.prepare(`INSERT INTO jobs (id, spec, origin, submitted_at, seq, state, node,
    attempt, given, result, finished_at, delivered) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 1)`);
  const start = Date.now() - 7 * 86_400_000;
  const fillSome = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const t = Math.floor(start + (i * 7 * 86_400_000) / N);
      const id = newTicket(t);
      const tenant = i === 1000 ? 'rare' : i % 25 === 0 ? 'acme' : undefined;
      const spec = JSON.stringify({ type: 'echo', args: ['hello', String(i)], tenant });
      const state = i % 1000 === 7 ? 'failed' : i % 5000 === 9 ? 'cancelled' : 'done';
      const node = `n${i % 3}`;
      const run = { node, attempt: 1, startedAt: t + 5, finishedAt: t + 20, exitCode: 0 };
      const result = JSON.stringify({
        ticket: id,
        state,
        output: `hello ${i}\n`,
        ...run,
        runs: [run],
      });
      insert.run(id, spec, node, t, i + 1, state, node, node, result, t + 20);
    }
  });
  for (let i = 0; i < N; i += 100_000) fillSome(i, Math.min(N, i + 100_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** The list as it was: one statement that read until it had `limit` (failed: from its index). */
function unboundedSql(failed: boolean): string {
  const inState = failed
    ? "state = 'failed'"
    : '(@states IS NULL OR state IN (SELECT value FROM json_each(@states)))';
  return `SELECT * FROM jobs WHERE ${inState}
    AND (@tenant IS NULL OR coalesce(json_extract(spec, '$.tenant'), 'default') = @tenant)
    ORDER BY id DESC LIMIT @limit`;
}

const CASES: Array<[string, ListFilter]> = [
  ['no filter, limit 100', { limit: 100 }],
  ['state=done, limit 1000', { states: ['done'], limit: 1000 }],
  ['tenant=acme (4%), limit 100', { tenant: 'acme', limit: 100 }],
  ['tenant=rare (one old job)', { tenant: 'rare', limit: 100 }],
  ['tenant=none (no job)', { tenant: 'none', limit: 100 }],
  ['state=done&tenant=rare', { states: ['done'], tenant: 'rare', limit: 100 }],
  ['state=failed&tenant=rare (index)', { states: ['failed'], tenant: 'rare', limit: 100 }],
];

/** min / median / max of 5 warm runs, in ms. */
function timed(run: () => unknown): string {
  run();
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    run();
    ms.push(performance.now() - s);
  }
  ms.sort((a, b) => a - b);
  return [ms[0], ms[2], ms[4]].map((x) => (x as number).toFixed(1)).join(' / ');
}

try {
  fill();
  console.log(`${N} jobs, ${(statSync(join(root, 'proxy.db')).size / 2 ** 20).toFixed(0)} MiB`);
  const db = openDatabase(root, 'proxy.db', 'relaxed', PROXY_SCHEMA);
  const store = new JobStore(db, new Committer(db));
  const unbounded = db.prepare<[object], Raw>(unboundedSql(false));
  const unboundedFailed = db.prepare<[object], Raw>(unboundedSql(true));
  console.log(`budget ${LIST_BOUNDS.budget} rows, windows of ${LIST_BOUNDS.window}`);
  console.log('case'.padEnd(36), 'unbounded min/median/max ms'.padEnd(30), 'paged');
  for (const [name, f] of CASES) {
    const args = {
      states: f.states ? JSON.stringify(f.states) : null,
      tenant: f.tenant ?? null,
      limit: f.limit,
    };
    const failed = f.states?.[0] === 'failed';
    const before = timed(() => (failed ? unboundedFailed : unbounded).all(args).map(fromRaw));
    const page = store.list(f);
    const after = timed(() => store.list(f));
    const note = `${page.rows.length} rows${page.partial ? ', partial' : ''}`;
    console.log(name.padEnd(36), before.padEnd(30), `${after} (${note})`);
  }
  db.close();
} finally {
  rmSync(root, { recursive: true, force: true });
}
