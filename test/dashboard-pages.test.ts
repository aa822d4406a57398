import t from 'tap';
import { launchChromium, noChromium as skip, watchedPage } from './helpers/browser.js';
import { fake, startServer } from './helpers/dashboard-fake.js';

const DEADLINE = 15_000;

const failed = (ticket: string) => ({ ticket, state: 'failed', exitCode: 3, type: 'echo' });
const NEWEST = '01M8NB0C2AB8S0V4TMHJH3FWS2';
const OLDER = '01M8NA0C2AB8S0V4TMHJH3FWS2';

t.test(
  "the failed jobs list follows the reply's next: Older…, then Newest",
  { skip },
  async (t) => {
    fake.jobPages = {
      '': { jobs: [failed(NEWEST)], next: NEWEST },
      [NEWEST]: { jobs: [failed(OLDER)] },
    };
    t.teardown(() => {
      fake.jobPages = undefined;
    });
    const url = await startServer(t.teardown);
    const { page, pageErrors } = await watchedPage(await launchChromium(t.teardown));
    await page.goto(url);

    await page.locator(`#failed tr[data-ticket="${NEWEST}"]`).waitFor({ timeout: DEADLINE });
    t.ok(await page.isHidden('#failed-newest'), 'the newest page: no Newest button');
    await page.getByRole('button', { name: 'Older…' }).click({ timeout: DEADLINE });
    await page.locator(`#failed tr[data-ticket="${OLDER}"]`).waitFor({ timeout: DEADLINE });
    await page.locator('#failed-older').waitFor({ state: 'hidden', timeout: DEADLINE });
    t.equal(await page.textContent('#failed-count'), '1 older');
    await page.getByRole('button', { name: 'Newest' }).click({ timeout: DEADLINE });
    await page.locator(`#failed tr[data-ticket="${NEWEST}"]`).waitFor({ timeout: DEADLINE });
    t.same(pageErrors, [], 'no script errors');
  },
);
