import t from 'tap';
import { launchChromium, noChromium as skip, watchedPage } from './helpers/browser.js';
import { LineClient, startCluster, until } from './helpers/cluster.js';
import { fake, startServer, TASKS_JOB } from './helpers/dashboard-fake.js';

const DEADLINE = 15_000;

const SOON = '01M8NB0C2AB8S0V4TMHJH3FWS2';
const LATER = '01M8NA0C2AB8S0V4TMHJH3FWS3';

t.test(
  'the schedules list: soonest first, cron and zone, newest runs lead to them',
  { skip },
  async (t) => {
    fake.schedules = {
      schedules: [
        {
          ticket: SOON,
          state: 'scheduled',
          type: 'echo',
          args: ['tick'],
          cron: '* * * * *',
          tz: 'UTC',
          next: '2026-11-30T04:01:00.000Z',
          runs: [{ ticket: TASKS_JOB.ticket, state: 'failed' }],
        },
        {
          ticket: LATER,
          state: 'scheduled',
          type: 'exec',
          args: ['sh', '-c', 'echo nightly'],
          cron: '0 3 * * *',
          tz: 'Europe/Paris',
          next: '2026-12-01T02:00:00.000Z',
          skipped: 2,
          runs: [],
        },
      ],
      total: 7,
    };
    t.teardown(() => {
      fake.schedules = undefined;
    });
    const url = await startServer(t.teardown);
    const { page, pageErrors } = await watchedPage(await launchChromium(t.teardown));
    await page.goto(url);

    await page.locator(`#schedules tr[data-ticket="${LATER}"]`).waitFor({ timeout: DEADLINE });
    t.same(
      await page.locator('#schedules tr').evaluateAll((rows) => rows.map((r) => r.dataset.ticket)),
      [SOON, LATER],
      'in the order the proxy gives: the soonest to fire first',
    );
    t.equal(await page.textContent('#schedules-count'), 'soonest 2 of 7', 'more than listed');
    const cells = async (ticket: string) =>
      page.locator(`#schedules tr[data-ticket="${ticket}"] td`).allTextContents();
    const later = await cells(LATER);
    t.equal(later[1], 'exec sh -c "echo nightly"');
    t.equal(later[2], '0 3 * * * (Europe/Paris)', 'a zone other than UTC is named');
    t.equal(later[4], 'none yet');
    t.equal(later[5], '2', 'skipped firings');
    const soon = await cells(SOON);
    t.equal(soon[2], '* * * * *');
    t.equal(soon[5], '0');

    // a run's state is a button that shows that run
    await page.getByRole('button', { name: `Show run ${TASKS_JOB.ticket} (failed)` }).click();
    await page.waitForSelector('#job:not([hidden])', { timeout: DEADLINE });
    t.equal(await page.textContent('#job-ticket'), TASKS_JOB.ticket);

    fake.schedules = { schedules: [], total: 0 };
    await page.waitForSelector('#schedules td.empty', { timeout: DEADLINE });
    t.match(await page.textContent('#schedules td.empty'), /^No schedules\./);
    t.equal(await page.textContent('#schedules-count'), '0');
    t.same(pageErrors, [], 'no script errors');
  },
);

t.test('Cancel on a schedule shown: asked first, then it stops firing', { skip }, async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const spec = { type: 'echo', args: ['nightly'], cron: '0 3 * * *' };
  const schedule = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
  const { page, pageErrors } = await watchedPage(await launchChromium(t.teardown));
  await page.goto(`http://127.0.0.1:${proxy.port}/`);
  const row = page.locator(`#schedules tr[data-ticket="${schedule}"]`);
  await row.waitFor({ timeout: DEADLINE });
  await row.getByRole('button', { name: `Show job ${schedule}` }).click();
  await page.waitForSelector('#job:not([hidden])', { timeout: DEADLINE });
  t.equal(await page.textContent('#job-state'), 'scheduled');

  // a person who says no to the question changes nothing
  const cancels: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith(`/api/jobs/${schedule}/cancel`)) cancels.push(r.method());
  });
  const asked: string[] = [];
  page.once('dialog', (d) => {
    asked.push(d.message());
    void d.dismiss();
  });
  await page.getByRole('button', { name: 'Cancel', exact: true }).click({ timeout: DEADLINE });
  t.match(asked, [`Cancel ${schedule}?`]);
  t.equal(await c.ask(`STATUS ${schedule}`), 'OK scheduled', 'still scheduled');

  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Cancel', exact: true }).click({ timeout: DEADLINE });
  await page.locator('#job-state:text-is("cancelled")').waitFor({ timeout: DEADLINE });
  t.match(await page.textContent('#job-message'), `Cancelled: ${schedule}.`);
  t.ok(await page.isHidden('#job-cancel'), 'no Cancel on a job that ended');
  await page.waitForSelector('#schedules td.empty', { timeout: DEADLINE });
  await until(async () => (await c.ask(`STATUS ${schedule}`)) === 'OK cancelled');
  t.same(cancels, ['POST'], 'one cancel sent: none for the question declined');
  t.same(pageErrors, [], 'no script errors');
});
