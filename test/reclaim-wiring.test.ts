import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { NODE_SCHEMA } from '../node/schema.js';
import { TicketStore } from '../node/ticket-store.js';
import { Upkeep, type UpkeepDeps } from '../node/upkeep.js';
import { JobStore } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { LeaderTerm } from '../proxy/term.js';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import { JobSpecSchema } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';
import { silentLogger } from '../shared/log.js';
import { tempDir, until } from './helpers/cluster.js';
import { finishedRecord } from './helpers/job-records.js';

// The processes' own expiry timers start a reclaim after each sweep: the files shrink while
// the process runs, with nobody asking.

const HOUR = 3_600_000;
const TTL = 200;
const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'.repeat(300)] });
const size = (file: string) => statSync(file).size;

t.test("the proxy's file shrinks after its expiry deleted old results", async (t) => {
  const dir = tempDir(t.teardown);
  const file = join(dir, 'proxy.db');
  const db = openDatabase(dir, 'proxy.db', 'relaxed', PROXY_SCHEMA, { pageSize: 16_384 });
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const store = new JobStore(db, committer);
  const old = Date.now() - 2 * HOUR;
  for (let i = 0; i < 20_000; i++) {
    store.insert(
      finishedRecord({
        spec,
        submittedAt: old + i,
        seq: i,
        delivered: true,
        output: 'y'.repeat(300),
      }),
    );
    if (i % 1000 === 999) committer.flush();
  }
  committer.flush();
  committer.stop();
  db.pragma('wal_checkpoint(PASSIVE)');
  const full = size(file);

  const cfg = loadProxyConfig({ DATA_DIR: dir, DURABILITY: 'relaxed', RESULT_TTL: String(TTL) });
  const term = new LeaderTerm(
    0,
    db,
    cfg,
    silentLogger(),
    () => true,
    t.error,
    () => {},
  );
  t.teardown(() => term.abandon());
  term.start();
  const after = await until(
    () => size(file) < full / 2 && size(file),
    30_000,
    'the file to shrink',
  );
  t.comment(`proxy.db: ${full} -> ${after} bytes`);
  t.pass(`shrank: ${full} -> ${after} bytes`);
  const jobs = (db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
  t.equal(jobs, 0, 'every old result expired');
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
});

t.test("a node's file shrinks after its expiry deleted old tickets", async (t) => {
  const dir = tempDir(t.teardown);
  const file = join(dir, 'node.db');
  const db = openDatabase(dir, 'node.db', 'relaxed', NODE_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const tickets = new TicketStore(db, committer);
  const old = Date.now() - 2 * HOUR;
  for (let i = 0; i < 20_000; i++) {
    const id = newTicket(old + i);
    tickets.insert(id, spec, old + i, () => {});
    const r = { state: 'done', exitCode: 0, output: 'y'.repeat(300), node: 'n1', attempt: 1 };
    tickets.finish({ id, ...r, startedAt: old + i, finishedAt: old + i } as JobResult, true);
    if (i % 1000 === 999) committer.flush();
  }
  committer.flush();
  db.pragma('wal_checkpoint(PASSIVE)');
  const full = size(file);

  const cfg = loadNodeConfig({ DATA_DIR: dir, RESULT_TTL: String(TTL), INFO_PERIOD: '60000' });
  const idle = () => 0;
  const upkeep = new Upkeep({
    cfg,
    link: { ready: false },
    executor: { expireLeases: idle },
    runLogs: { expire: idle },
    tickets,
    log: silentLogger(),
    sendInfo: idle,
    db,
  } as unknown as UpkeepDeps);
  t.teardown(() => upkeep.stop());
  upkeep.start();
  const after = await until(
    () => size(file) < full / 2 && size(file),
    30_000,
    'the file to shrink',
  );
  t.pass(`shrank: ${full} -> ${after} bytes`);
  t.equal(tickets.recent(10).length, 0, 'every old ticket expired');
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  committer.stop();
});
