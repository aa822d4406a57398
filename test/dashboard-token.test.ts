import { networkInterfaces } from 'node:os';
import type { Page } from 'playwright-core';
import t from 'tap';
import { launchChromium, noChromium as skip } from './helpers/browser.js';
import { LineClient, startCluster } from './helpers/cluster.js';

const DEADLINE = 15_000;

async function open(teardown: (fn: () => unknown) => void, url: string): Promise<Page> {
  const browser = await launchChromium(teardown);
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(url);
  return page;
}

/** A job that fails, for the failed list, and its ticket. */
async function failedJob(port: number, teardown: (fn: () => unknown) => void): Promise<string> {
  const c = await LineClient.connect(port, teardown);
  const spec = JSON.stringify({ type: 'exec', args: ['sh', '-c', 'exit 3'] });
  const ticket = (await c.ask(`SUBMIT ${spec}`)).replace(/^OK /, '');
  await c.ask(`WAIT ${ticket} 20000`);
  return ticket;
}

t.test('a person gives the dashboard its token, and then sees jobs', { skip }, async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 1, {
    proxyEnv: { DASHBOARD_TOKEN: 'open sesame' },
    nodeEnv: { EXEC_ALLOW: 'sh' },
  });
  const ticket = await failedJob(nodes[0]!.clientPort, t.teardown);
  const page = await open(t.teardown, `http://127.0.0.1:${proxy.port}/`);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  await page.waitForSelector('#token-section:not([hidden])', { timeout: DEADLINE });
  t.match(await page.textContent('#token-note'), /DASHBOARD_TOKEN/);
  t.match(await page.textContent('#failed'), /Could not list the failed jobs/);
  t.ok(await page.isVisible('#nodes'), "the cluster's numbers show without it");

  await page.getByLabel('Dashboard token').fill('open sesam');
  await page.getByLabel('Dashboard token').press('Enter');
  await page.waitForSelector('#token-note:has-text("did not take")', { timeout: DEADLINE });
  t.pass('a wrong token is said to be wrong');

  await page.getByLabel('Dashboard token').fill('open sesame');
  await page.getByRole('button', { name: 'Use' }).click();
  await page.waitForSelector(`tr[data-ticket="${ticket}"]`, { timeout: DEADLINE });
  t.ok(await page.isHidden('#token-section'), 'the form goes away');
  await page.getByLabel('Ticket').fill(ticket);
  await page.getByLabel('Ticket').press('Enter');
  await page.waitForSelector('#job:not([hidden])', { timeout: DEADLINE });
  t.equal(await page.textContent('#job-state'), 'failed');

  await page.reload();
  await page.waitForSelector(`tr[data-ticket="${ticket}"]`, { timeout: DEADLINE });
  t.ok(await page.isHidden('#token-section'), 'the tab keeps the token across a reload');
  t.same(pageErrors, []);
});

t.test('without a token, a browser elsewhere is told what to set', { skip }, async (t) => {
  const outside = Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal)?.address;
  if (outside === undefined) {
    t.comment('this machine has no non-loopback address to open the page from: left out');
    return;
  }
  const { proxy, nodes } = await startCluster(t.teardown, 1, {
    proxyEnv: { PROXY_HOST: '0.0.0.0' },
    nodeEnv: { EXEC_ALLOW: 'sh' },
  });
  await failedJob(nodes[0]!.clientPort, t.teardown);
  const page = await open(t.teardown, `http://${outside}:${proxy.port}/`);
  await page.waitForSelector('#token-section:not([hidden])', { timeout: DEADLINE });
  t.match(await page.textContent('#token-note'), /set DASHBOARD_TOKEN on the proxy/);
  t.ok(await page.isHidden('#token-form'), 'no token can help: none is set');
  await page.waitForSelector('tr[data-node="n1"]', { timeout: DEADLINE });
  t.pass("the cluster's numbers show");
});
