import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { launchChromium, noChromium as skip, watchedPage } from './helpers/browser.js';
import { LineClient, startCluster, tempDir } from './helpers/cluster.js';
import { fake, SKIPPING_SCHEDULE, startServer, TASKS_JOB } from './helpers/dashboard-fake.js';

const DEADLINE = 15_000;
/** Screenshots stay after the run, for a person to look at (the path is printed). */
const shots = skip ? '' : mkdtempSync(join(tmpdir(), 'petrel-dashboard-'));

/** The text of each cell of a node's row; empty while the row is absent. */
function rowCells(page: Page, id: string): Promise<string[]> {
  return page.locator(`tr[data-node="${id}"] td`).allTextContents();
}

/** Points in the chart line of a node (or of the global queue, for 'global'); 0 if none. */
async function linePoints(page: Page, id: string): Promise<number> {
  const sel = id === 'global' ? 'path[data-series="global"]' : `path[data-node="${id}"]`;
  const d = (await (await page.$(`#chart ${sel}`))?.getAttribute('d')) ?? '';
  return (d.match(/[ML]/g) ?? []).length;
}

/** Polls `check` until it holds, failing after a deadline: never a fixed sleep. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + DEADLINE;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('the dashboard shows the cluster live and survives API failures', { skip }, async (t) => {
  const url = await startServer(t.teardown);
  const browser = await launchChromium(t.teardown);
  const { page, pageErrors } = await watchedPage(browser, {
    viewport: { width: 1100, height: 900 },
  });
  const foreign: string[] = [];
  // resources the page (or the browser, for it) failed to load, by address
  const failedLoads: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && m.text().startsWith('Failed to load')) {
      const where = m.location().url;
      failedLoads.push(where ? new URL(where).pathname : m.text());
    }
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(url)) foreign.push(req.url());
  });
  await page.goto(url);

  await page.waitForSelector('tr[data-node="node-9000"]', { timeout: DEADLINE });
  await page.waitForSelector('tr[data-node="node-9001"]', { timeout: DEADLINE });
  // the chart starts with the proxy's history: more points than polls so far
  const opened = await linePoints(page, 'node-9001');
  t.ok(opened > fake.requests + 50, `the chart opens with history (${opened} points)`);
  await eventually(
    'a chart line with history',
    async () => (await linePoints(page, 'node-9001')) > 12,
  );
  t.ok((await linePoints(page, 'node-9000')) > 12, 'node-9000 has a line with history');
  t.ok((await linePoints(page, 'global')) > 12, 'the global queue has a line');
  t.equal(await page.textContent('#policy'), 'least-loaded');
  t.equal(await page.textContent('#status'), 'live');
  await page.screenshot({ path: join(shots, 'live.png'), fullPage: true });

  // a job of many tasks shows its progress, its runs and each task
  await page.getByLabel('Ticket').fill(TASKS_JOB.ticket);
  await page.getByLabel('Ticket').press('Enter');
  await page.waitForSelector('[data-detail="Tasks"]', { timeout: DEADLINE });
  t.equal(await page.textContent('[data-field="progress"]'), '2 of 3 done, 1 failed, 0 running');
  t.same(await page.locator('[data-detail="Runs"] tbody tr').count(), 2, 'two runs');
  t.same(await page.locator('[data-detail="Tasks"] tbody tr:nth-child(2) td').allTextContents(), [
    '1',
    'failed',
    'node-9001',
    '2',
    'exit code 2',
    '–',
  ]);
  await page.screenshot({ path: join(shots, 'job-tasks.png'), fullPage: true });

  // a schedule whose firings were skipped says how many
  await page.getByLabel('Ticket').fill(SKIPPING_SCHEDULE.ticket);
  await page.getByLabel('Ticket').press('Enter');
  await page.waitForSelector('[data-field="skipped"]', { timeout: DEADLINE });
  t.equal(
    await page.textContent('[data-field="skipped"]'),
    '2 firings (the previous run had not started)',
  );
  t.match(await page.textContent('#job-output'), /a schedule prints nothing/);

  fake.animate = false;
  fake.queued = 17;
  fake.nodes[0] = { ...fake.nodes[0]!, queued: 7, running: 2 };
  fake.nodes[1] = { ...fake.nodes[1]!, connected: false, queued: 0, running: 0 };
  fake.nodes.push({ id: 'node-9002', connected: true, slots: 3, queued: 2, running: 1, done: 5 });
  await page.waitForSelector('tr[data-node="node-9002"]', { timeout: DEADLINE });
  await eventually(
    'a line for the new node',
    async () => (await linePoints(page, 'node-9002')) > 0,
  );
  const first = await rowCells(page, 'node-9000');
  t.same(first.slice(0, 7), [
    'node-9000',
    '● connected',
    '2',
    '7',
    '2',
    '0',
    String(fake.nodes[0]!.done),
  ]);
  t.match((await rowCells(page, 'node-9001'))[1], /disconnected/);
  t.same((await rowCells(page, 'node-9002')).slice(2, 7), ['3', '2', '1', '2', '5']);
  t.equal(await page.textContent('[data-card="Global queue"] .value'), '17');
  t.equal(await page.textContent('[data-card="Nodes up"] .value'), '2 / 3');

  fake.failing = true;
  await page.waitForSelector('#banner.show', { timeout: DEADLINE });
  t.match(await page.textContent('#banner'), /Cannot reach the proxy API \(HTTP 500/);
  t.equal(await page.textContent('#status'), 'offline');
  t.ok(await page.$('tr[data-node="node-9002"]'), 'the last good data stays on screen');

  fake.failing = false;
  await page.waitForSelector('#banner.show', { state: 'detached', timeout: DEADLINE });
  await eventually('the live status', async () => (await page.textContent('#status')) === 'live');

  await page.setViewportSize({ width: 375, height: 800 });
  await eventually(
    'no horizontal scrolling on a phone',
    async () => ((await page.evaluate('document.documentElement.scrollWidth')) as number) <= 375,
  );
  await page.screenshot({ path: join(shots, 'live-phone.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(shots, 'live-phone-dark.png'), fullPage: true });

  t.same(pageErrors, [], 'no script errors');
  t.same(foreign, [], 'no request leaves the page origin');
  t.same(
    failedLoads.filter((path) => path !== '/api/cluster'),
    [],
    'nothing fails to load but the API this test makes fail (no /favicon.ico 404)',
  );
});

t.test('a person finds a job by its ticket and reads its result', { skip }, async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2, {
    nodeEnv: { EXEC_ALLOW: 'sh', JOB_OUTPUT_LIMIT: '200' },
  });
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const ticket = (await c.ask('SUBMIT echo hello from the dashboard')).replace(/^OK /, '');
  t.match(await c.ask(`WAIT ${ticket} 20000`), /"state":"done"/);

  const browser = await launchChromium(t.teardown);
  const { page, pageErrors } = await watchedPage(browser, {
    viewport: { width: 1100, height: 900 },
  });
  // the proxy's history was filling before the page opened: the chart starts with it
  await eventually('two history samples', async () => proxy.port > 0 && (await history()) >= 2);
  await page.goto(`http://127.0.0.1:${proxy.port}/`);
  await page.waitForSelector('tr[data-node="n1"]', { timeout: DEADLINE });
  t.ok((await linePoints(page, 'n1')) >= 2, 'the chart opens with the proxy history');

  // a person pastes the ticket in lower case, as a terminal may have shown it, and presses Enter
  await page.getByLabel('Ticket').fill(ticket.toLowerCase());
  await page.getByLabel('Ticket').press('Enter');
  await page.waitForSelector('#job:not([hidden])', { timeout: DEADLINE });
  t.equal(await page.textContent('#job-ticket'), ticket);
  t.equal(await page.getByLabel('Ticket').inputValue(), ticket, 'the field shows it canonical');
  t.equal(await page.textContent('#job-state'), 'done');
  t.equal(await page.textContent('#job-output'), 'hello from the dashboard');
  t.equal(await page.textContent('[data-field="job"]'), 'echo hello from the dashboard');
  t.match(await page.textContent('[data-field="node"]'), /^n[12]$/);
  t.equal(await page.textContent('[data-field="attempts"]'), '1');
  t.equal(new URL(page.url()).hash, `#ticket=${ticket}`, 'the address links to the job');
  await page.screenshot({ path: join(shots, 'job-done.png'), fullPage: true });

  // output longer than a result keeps is read whole from the log on the node that ran it
  const spec = JSON.stringify({ type: 'exec', args: ['sh', '-c', 'seq 1 2000'] });
  const long = (await c.ask(`SUBMIT ${spec}`)).replace(/^OK /, '');
  t.match(await c.ask(`WAIT ${long} 20000`), /"state":"done"/);
  await page.getByLabel('Ticket').fill(long);
  await page.getByLabel('Ticket').press('Enter');
  await eventually('the whole log', async () =>
    /from the log on n[12]/.test((await page.textContent('#job-output-note')) ?? ''),
  );
  const lines = ((await page.textContent('#job-output')) ?? '').trim().split('\n');
  t.equal(lines.length, 2000, 'every line, not the head and tail of the result');
  t.equal(lines[999], '1000');
  t.match(await page.textContent('#job-output-note'), /^All 8\.7 KiB, from the log on n[12]\.$/);
  await page.screenshot({ path: join(shots, 'job-log.png'), fullPage: true });

  // a job still running is followed until it ends
  // (long enough to be caught running on a loaded machine: 1.5 s once ended first)
  const slow = (await c.ask('SUBMIT sleep 5000')).replace(/^OK /, '');
  await page.getByLabel('Ticket').fill(slow);
  await page.getByRole('button', { name: 'Show' }).click();
  await eventually('the running job', async () =>
    ['queued', 'running'].includes((await page.textContent('#job-state')) ?? ''),
  );
  t.match(await page.textContent('#job-message'), /this view follows it/);
  await eventually(
    'the job to end on screen',
    async () => (await page.textContent('#job-state')) === 'done',
  );
  t.equal(await page.textContent('#job-message'), '');

  // a failed job is listed; Retry runs it again under its ticket and the page follows it
  const flag = join(tempDir(t.teardown), 'ran-once');
  const script = `test -e ${flag} || { touch ${flag}; echo first run fails; exit 3; }; echo second run works`;
  const flaky = JSON.stringify({ type: 'exec', args: ['sh', '-c', script] });
  const failing = (await c.ask(`SUBMIT ${flaky}`)).replace(/^OK /, '');
  t.match(await c.ask(`WAIT ${failing} 20000`), /"state":"failed"/);
  const row = page.locator(`#failed tr[data-ticket="${failing}"]`);
  await row.waitFor({ timeout: DEADLINE });
  t.match(await row.locator('td').nth(2).textContent(), /exit code 3|3/);
  await page.screenshot({ path: join(shots, 'failed-list.png'), fullPage: true });
  await row.getByRole('button', { name: `Retry job ${failing}` }).click();
  await eventually(
    'the retried job on screen',
    async () => (await page.textContent('#job-ticket')) === failing,
  );
  await eventually(
    'the second run to end',
    async () => (await page.textContent('#job-state')) === 'done',
  );
  await eventually('the output of the second run', async () =>
    /second run works/.test((await page.textContent('#job-output')) ?? ''),
  );
  await row.waitFor({ state: 'detached', timeout: DEADLINE });
  t.match(await c.ask(`RESULT ${failing}`), /"state":"done"/, 'a client sees the new result');
  await page.screenshot({ path: join(shots, 'retried.png'), fullPage: true });

  // a schedule shows its cron expression and its next due time
  const cron = JSON.stringify({ type: 'echo', args: ['tick'], cron: '0 3 * * *', tz: 'UTC' });
  const schedule = (await c.ask(`SUBMIT ${cron}`)).replace(/^OK /, '');
  await page.getByLabel('Ticket').fill(schedule);
  await page.getByLabel('Ticket').press('Enter');
  await eventually(
    'the schedule',
    async () => (await page.textContent('#job-state')) === 'scheduled',
  );
  t.equal(await page.textContent('[data-field="cron"]'), '0 3 * * * (UTC)');
  t.not(await page.textContent('[data-field="next"]'), '–', 'its next due time');

  // mistakes get a sentence, not a blank page
  await page.getByLabel('Ticket').fill('not-a-ticket');
  await page.getByLabel('Ticket').press('Enter');
  await eventually('the refusal', async () =>
    /not a ticket/.test((await page.textContent('#job-message')) ?? ''),
  );
  t.ok(await page.isHidden('#job'), 'no stale job under the message');
  const unknown = '0'.repeat(26);
  await page.getByLabel('Ticket').fill(unknown);
  await page.getByLabel('Ticket').press('Enter');
  await eventually('the not-found message', async () =>
    ((await page.textContent('#job-message')) ?? '').includes(`No job with ticket ${unknown}`),
  );
  await page.screenshot({ path: join(shots, 'job-unknown.png'), fullPage: true });

  // opening the link shows the job straight away
  const linked = await browser.newPage();
  await linked.goto(`http://127.0.0.1:${proxy.port}/#ticket=${ticket}`);
  await linked.waitForSelector('#job:not([hidden])', { timeout: DEADLINE });
  t.equal(await linked.textContent('#job-output'), 'hello from the dashboard');

  t.same(pageErrors, [], 'no script errors');
  t.comment(`screenshots in ${shots}`);

  async function history(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/api/history`);
    return ((await res.json()) as { samples: unknown[] }).samples.length;
  }
});

t.test(
  'the proxy serves the dashboard and it shows a real cluster at work',
  { skip },
  async (t) => {
    const { proxy, nodes } = await startCluster(t.teardown, 2);
    const browser = await launchChromium(t.teardown);
    const { page, pageErrors } = await watchedPage(browser);
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    await page.waitForSelector('tr[data-node="n1"]', { timeout: DEADLINE });
    await page.waitForSelector('tr[data-node="n2"]', { timeout: DEADLINE });
    const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
    for (let i = 0; i < 6; i++) await c.ask('SUBMIT sleep 3000');
    // the fifth cell of a node's row is its running jobs: both nodes run two (SLOTS=2)
    const running = (id: string) => page.textContent(`tr[data-node="${id}"] td:nth-child(5)`);
    await eventually(
      'both nodes to show two running jobs',
      async () => (await running('n1')) === '2' && (await running('n2')) === '2',
    );
    t.ok(await page.isHidden('#tenants-section'), 'no tenant table while every job is the default');

    // once jobs name tenants, each tenant's queue shows: queued here plus out on nodes
    for (let i = 0; i < 3; i++) {
      for (const tenant of ['acme', 'globex']) {
        const spec = { type: 'sleep', args: ['60000'], tenant };
        t.match(await c.ask(`SUBMIT ${JSON.stringify(spec)}`), /^OK /);
      }
    }
    await page.waitForSelector('#tenants-section:not([hidden])', { timeout: DEADLINE });
    const tenant = async (name: string) => {
      const cells = await page.locator(`tr[data-tenant="${name}"] td`).allTextContents();
      return cells.length === 4 ? Number(cells[2]) + Number(cells[3]) : -1;
    };
    await eventually(
      'three jobs of each tenant',
      async () => (await tenant('acme')) === 3 && (await tenant('globex')) === 3,
    );
    await page.screenshot({ path: join(shots, 'tenants.png'), fullPage: true });
    t.equal(pageErrors.length, 0, 'no script errors');
    t.equal(await page.textContent('#status'), 'live');
  },
);
