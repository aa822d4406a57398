import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { launchChromium, noChromium as skip } from './helpers/browser.js';
import { dashboardHtml } from '../proxy/dashboard.js';
import { ProxyMetrics } from '../proxy/metrics.js';

/** A proxy's page and API as a follower of a group serves them, with one failed job. */
function serve(teardown: (fn: () => unknown) => void, cluster: () => unknown): Promise<string> {
  const html = dashboardHtml();
  const failed = {
    ticket: '01JFAILEDFAILEDFAILEDFAILE',
    type: 'exec',
    args: ['sh', '-c', 'exit 3'],
    state: 'failed',
    exitCode: 3,
    error: 'exit code 3',
    node: 'n1',
    finishedAt: Date.now(),
  };
  const server = http.createServer((req, res) => {
    const json = (v: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else if (req.url === '/api/history') json({ periodMs: 1000, samples: [] });
    else if (req.url === '/api/cluster') json(cluster());
    else if (req.url?.startsWith('/api/jobs?')) json({ jobs: [failed] });
    else res.writeHead(404).end();
  });
  teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`),
    ),
  );
}

t.test(
  'a follower says so and links the leader; a failed exec job keeps its quoting',
  { skip },
  async (t) => {
    let group: { role: string; leader: string | null } = {
      role: 'follower',
      leader: 'ws://10.0.0.7:8080/cluster',
    };
    const url = await serve(t.teardown, () => ({
      time: Date.now(),
      policy: 'least-loaded',
      group,
      queue: { queued: 0, assigned: 0, running: 0 },
      totals: {},
      nodes: [],
    }));
    const browser = await launchChromium(t.teardown);
    const page = await browser.newPage();
    await page.goto(url);
    const status = page.locator('#status');
    await status.filter({ hasText: 'follower' }).waitFor({ timeout: 15_000 });
    t.match(await page.locator('#banner').innerText(), /follower/);
    t.equal(await page.locator('#banner a').getAttribute('href'), 'http://10.0.0.7:8080/');
    group = { role: 'follower', leader: null };
    await status.filter({ hasText: 'no leader' }).waitFor({ timeout: 15_000 });
    t.match(await page.locator('#banner').innerText(), /No proxy leads/);
    group = { role: 'leader', leader: null };
    await status.filter({ hasText: 'live' }).waitFor({ timeout: 15_000 });
    t.equal(await page.locator('#banner').innerText(), '', 'the leader shows no banner');
    const row = page.locator('#failed tr[data-ticket]');
    await row.first().waitFor({ timeout: 15_000 });
    t.match(await row.first().innerText(), /exec sh -c "exit 3"/, 'arguments quoted as typed');
    const nodeHead = await page.locator('table:has(#nodes) thead').innerText();
    t.match(nodeHead, /Finished/, "the node table's count includes failed runs, so is not Done");
    t.notMatch(nodeHead, /Done/);
  },
);

t.test('petrel_proxy_leader says whether this proxy leads', async (t) => {
  let leading = false;
  const m = new ProxyMetrics({
    cluster: () =>
      leading
        ? ({
            counters: {},
            nodes: new Map(),
            queueLength: 0,
            liveJobs: 0,
            undeliveredExpired: 0,
            suspicions: { suspicions: 0, falseSuspicions: 0 },
            scheduleCounts: { active: 0, fired: 0, skipped: 0 },
            holdOf: () => 0,
            tenants: () => [],
          } as never)
        : undefined,
    commits: () => 0,
    diskFull: () => false,
    rejectedFrames: () => 0,
    refusedConnections: () => 0,
  });
  t.match((await m.metrics.render()).body, /^petrel_proxy_leader 0$/m);
  leading = true;
  t.match((await m.metrics.render()).body, /^petrel_proxy_leader 1$/m);
});
