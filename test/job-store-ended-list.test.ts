import t from 'tap';
import { listSql, type WindowArgs } from '../proxy/job-rows.js';
import { JobStore, type JobRecord } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { Committer, openDatabase } from '../shared/db.js';
import { tempDir } from './helpers/cluster.js';
import { endedRecord } from './helpers/job-records.js';

t.test('the failed and cancelled jobs are listed from their partial indexes', (t) => {
  const db = openDatabase(tempDir(t.teardown), 'proxy.db', 'relaxed', PROXY_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const store = new JobStore(db, committer);
  const jobs: JobRecord[] = [];
  for (let i = 1; i <= 3000; i++) {
    const state = i % 500 === 0 ? 'failed' : i % 700 === 0 ? 'cancelled' : 'done';
    jobs.push(endedRecord(i, state, i % 1000 === 0 ? 'team-a' : undefined));
  }
  for (const j of jobs) store.insert(j);
  committer.flush();

  const ids = (states: JobRecord['state'][], tenant?: string, limit = 100) =>
    store.list({ states, limit, ...(tenant ? { tenant } : {}) }).rows.map((j) => j.id);
  const expect = (state: string, tenant?: string) =>
    jobs
      .filter((j) => j.state === state && (tenant === undefined || j.spec.tenant === tenant))
      .map((j) => j.id)
      .reverse();
  t.same(ids(['failed']), expect('failed'), 'every failed job, newest first');
  t.same(ids(['cancelled']), expect('cancelled'), 'every cancelled job, newest first');
  t.same(ids(['failed'], undefined, 2), expect('failed').slice(0, 2), 'at most the limit');
  t.same(ids(['failed'], 'team-a'), expect('failed', 'team-a'), 'of one tenant');
  t.same(ids(['done'], undefined, 3), expect('done').slice(0, 3), 'done jobs as before');

  // a list of the few failed jobs reads its index, not every job kept for RESULT_TTL
  for (const state of ['failed', 'cancelled'] as const) {
    const plan = db
      .prepare<[WindowArgs], { detail: string }>('EXPLAIN QUERY PLAN ' + listSql(state))
      .all({ states: null, tenant: null, before: '~', window: 100, need: 50 })
      .map((r) => r.detail)
      .join('; ');
    t.match(plan, new RegExp(`USING INDEX jobs_${state}`), `${state}: ${plan}`);
  }
  t.end();
});
