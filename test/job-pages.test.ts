import t from 'tap';
import { readPage, type PageReader } from '../proxy/job-pages.js';
import { parseJobQuery } from '../proxy/job-query.js';
import { JobStore, type JobRecord } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import { Committer, openDatabase } from '../shared/db.js';
import { LineClient, startCluster, tempDir } from './helpers/cluster.js';
import { endedRecord } from './helpers/job-records.js';
import { jobView, submitSpec } from './helpers/line-jobs.js';

type Row = { id: string; tenant: string };

/** Rows sorted oldest first, as a table's key; counts the rows each call reads. */
function fakeReader(all: Row[], tenant?: string) {
  const newest = [...all].sort((a, b) => (a.id < b.id ? 1 : -1));
  const below = (before: string, window: number) =>
    newest.filter((r) => r.id < before).slice(0, window);
  const reader: PageReader<Row> & { read: number } = {
    read: 0,
    matching(before, window, need) {
      const w = below(before, window);
      this.read += w.length;
      return w.filter((r) => tenant === undefined || r.tenant === tenant).slice(0, need);
    },
    extent(before, window) {
      const w = below(before, window);
      return { n: w.length, oldest: w.at(-1)?.id ?? null };
    },
  };
  return reader;
}

/** Ids that sort like tickets: `T0000`, `T0001`, … */
const rows = (n: number, tenantOf: (i: number) => string): Row[] =>
  Array.from({ length: n }, (_, i) => ({
    id: 'T' + String(i).padStart(4, '0'),
    tenant: tenantOf(i),
  }));
const ids = (rs: Row[]) => rs.map((r) => r.id);

t.test('a page: newest first, older than before, next while more may exist', (t) => {
  const all = rows(10, () => 'default');
  const wide = { budget: 1000, window: 4 };
  const first = readPage(fakeReader(all), 3, undefined, wide);
  t.same(ids(first.rows), ['T0009', 'T0008', 'T0007'], 'the newest, newest first');
  t.equal(first.next, 'T0007', 'a full page: next is its oldest');
  t.notOk(first.partial);
  const second = readPage(fakeReader(all), 3, first.next, wide);
  t.same(ids(second.rows), ['T0006', 'T0005', 'T0004'], 'strictly older than before');
  const last = readPage(fakeReader(all), 5, 'T0003', wide);
  t.same(ids(last.rows), ['T0002', 'T0001', 'T0000']);
  t.same(Object.keys(last), ['rows'], 'the file ended: no next, not partial');
  t.same(readPage(fakeReader([]), 5, undefined, wide), { rows: [] }, 'an empty file');
  t.end();
});

t.test('a filter few rows match reads at most the budget, then says where to go on', (t) => {
  // one row of tenant "rare" in 100, the oldest
  const all = rows(100, (i) => (i === 0 ? 'rare' : 'default'));
  const bounds = { budget: 30, window: 8 };
  const reader = fakeReader(all, 'rare');
  const cut = readPage(reader, 5, undefined, bounds);
  t.same(cut.rows, []);
  t.equal(cut.partial, true, 'the budget ended the page');
  t.equal(cut.next, 'T0070', 'next: the oldest row read');
  t.ok(reader.read <= 30, `read ${reader.read} rows of a budget of 30`);
  // following next reaches the rare row, then the end
  let page = cut;
  const found: string[] = [];
  let requests = 1;
  while (page.next !== undefined) {
    page = readPage(fakeReader(all, 'rare'), 5, page.next, bounds);
    found.push(...ids(page.rows));
    requests++;
  }
  t.same(found, ['T0000'], 'every match, once');
  t.equal(requests, 4, '100 rows at 30 a request');
  t.notOk(page.partial, 'the last page ended at the file, not the budget');
  const tenantRows = readPage(fakeReader(all, 'default'), 3, undefined, bounds);
  t.same(ids(tenantRows.rows), ['T0099', 'T0098', 'T0097'], 'a common tenant fills its page');
  t.end();
});

t.test('GET /api/jobs: before is a ticket', (t) => {
  const q = (s: string) => parseJobQuery(new URLSearchParams(s));
  const ticket = '01M8NB0C2AB8S0V4TMHJH3FWS2';
  t.same(q(`before=${ticket.toLowerCase()}&limit=5`), {
    ok: true,
    filter: { limit: 5, before: ticket },
  });
  t.match(q('before=yesterday'), { ok: false, message: /^before is a ticket .*: yesterday$/ });
  t.end();
});

t.test('the jobs table is paged in windows of its key or of a partial index', (t) => {
  const db = openDatabase(tempDir(t.teardown), 'proxy.db', 'relaxed', PROXY_SCHEMA);
  t.teardown(() => db.close());
  const committer = new Committer(db);
  const store = new JobStore(db, committer);
  const jobs: JobRecord[] = [];
  for (let i = 1; i <= 300; i++) {
    jobs.push(
      endedRecord(i, i % 10 === 0 ? 'failed' : 'done', i === 5 || i === 20 ? 'rare' : undefined),
    );
  }
  for (const j of jobs) store.insert(j);
  committer.flush();
  const newest = jobs.map((j) => j.id).reverse();
  const bounds = { budget: 50, window: 20 };

  const all = store.list({ limit: 4 }, bounds);
  t.same(
    all.rows.map((j) => j.id),
    newest.slice(0, 4),
  );
  t.equal(all.next, newest[3]);
  const older = store.list({ limit: 4, before: all.next }, bounds);
  t.same(
    older.rows.map((j) => j.id),
    newest.slice(4, 8),
    'before: the next four',
  );

  const rare = store.list({ tenant: 'rare', limit: 10 }, bounds);
  t.same(rare, { rows: [], next: newest[49], partial: true }, 'the budget: 50 rows read');
  const tail = store.list({ tenant: 'rare', limit: 10, before: jobs[30]!.id }, bounds);
  t.same(
    tail.rows.map((j) => j.id),
    [jobs[19]!.id, jobs[4]!.id],
    'below before, the rare tenant found, the file ends',
  );
  t.same(Object.keys(tail), ['rows']);
  const doneRare = store.list({
    states: ['done'],
    tenant: 'rare',
    limit: 10,
    before: jobs[30]!.id,
  });
  t.same(
    doneRare.rows.map((j) => j.id),
    [jobs[4]!.id],
    'state and tenant together',
  );

  // 30 failed jobs: the index is read in windows too, so a tenant there is bounded as well
  const failed = store.list(
    { states: ['failed'], tenant: 'rare', limit: 10 },
    { budget: 25, window: 10 },
  );
  t.same(failed, { rows: [], next: jobs[59]!.id, partial: true }, '25 failed rows, then a cut');
  const failedRest = store.list({
    states: ['failed'],
    tenant: 'rare',
    limit: 10,
    before: failed.next,
  });
  t.same(
    failedRest.rows.map((j) => j.id),
    [jobs[19]!.id],
  );
  t.end();
});

t.test('GET /api/jobs pages with before and next over the proxy port', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const tickets: string[] = [];
  for (const tenant of ['acme', 'acme', 'other', 'acme']) {
    const ticket = await submitSpec(c, { type: 'echo', args: [tenant], tenant });
    await jobView(c, 'WAIT', ticket);
    tickets.push(ticket);
  }
  const get = async (query: string) => {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/api/jobs?${query}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  type Page = { jobs: Array<{ ticket: string }>; next?: string; partial?: boolean };
  const first = (await get('tenant=acme&limit=2')).body as Page;
  t.same(
    first.jobs.map((j) => j.ticket),
    [tickets[3], tickets[1]],
  );
  t.equal(first.next, tickets[1], 'a full page names next');
  t.notOk('partial' in first);
  const second = (await get(`tenant=acme&limit=2&before=${first.next}`)).body as Page;
  t.same(second, { jobs: [second.jobs[0]] }, 'the last page: no next');
  t.equal(second.jobs[0]?.ticket, tickets[0]);
  const bad = await get('before=nope');
  t.equal(bad.status, 400);
  t.match(bad.body, { error: { code: 'BAD_REQUEST', message: /before is a ticket/ } });
});
