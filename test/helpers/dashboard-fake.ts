import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dashboardHtml } from '../../proxy/dashboard.js';

/**
 * The dashboard test's proxy: its page, and a fake of the API the page reads, which tests
 * change to watch the page follow.
 */

export interface FakeNode {
  id: string;
  connected: boolean;
  slots: number;
  queued: number;
  running: number;
  done: number;
}

/** What the fake `/api/cluster` serves; tests change it and watch the page follow. */
export const fake = {
  failing: false,
  animate: true,
  requests: 0,
  /** What `/api/schedules?…` serves; unset: none. */
  schedules: undefined as Record<string, unknown> | undefined,
  /** What `/api/jobs?…` serves, by its `before` ('': none); unset: no jobs. */
  jobPages: undefined as Record<string, unknown> | undefined,
  /** The clock the API reports; it runs 5 s per poll so the chart fills quickly. */
  time: 1_700_000_000_000,
  queued: 5,
  nodes: [
    { id: 'node-9000', connected: true, slots: 2, queued: 1, running: 2, done: 40 },
    { id: 'node-9001', connected: true, slots: 4, queued: 0, running: 3, done: 37 },
  ] as FakeNode[],
};

function clusterJson(): string {
  fake.requests++;
  fake.time += 5000;
  if (fake.animate) {
    fake.nodes.forEach((n, i) => {
      n.queued = Math.round(2 + 2 * Math.sin(fake.requests / 3 + i * 2));
      n.running = Math.min(n.slots, 1 + ((fake.requests + i) % n.slots));
      n.done += n.running;
    });
    fake.queued = Math.round(4 + 3 * Math.cos(fake.requests / 4));
  }
  const nodes = fake.nodes.map((n) => ({
    ...n,
    free: Math.max(0, n.slots - n.running),
    outstanding: n.queued + n.running,
    lastSeen: fake.time - (n.connected ? 120 : 8000),
  }));
  const done = nodes.reduce((a, n) => a + n.done, 0);
  return JSON.stringify({
    time: fake.time,
    policy: 'least-loaded',
    queue: { queued: fake.queued, assigned: 3, running: 5 },
    totals: { submitted: done + 20, done, failed: 1, cancelled: 2, lost: 0, duplicates: 0 },
    nodes,
  });
}

/** A job of three tasks, one failed after two runs, as `/api/jobs/{ticket}` serves it. */
export const TASKS_JOB = {
  ticket: '01M8N9FWE35RCC0TX6RB836C65',
  state: 'failed',
  error: 'task 1 failed',
  attempts: 2,
  submittedAt: '2026-11-30T03:55:30.000Z',
  finishedAt: '2026-11-30T03:55:34.000Z',
  type: 'exec',
  progress: { total: 3, done: 2, failed: 1, running: 0 },
  runs: [
    { attempt: 1, node: 'node-9000', exitCode: 2, error: 'exit code 2' },
    { attempt: 2, node: 'node-9001', exitCode: 2, error: 'exit code 2' },
  ],
  tasks: [
    { index: 0, state: 'done', exitCode: 0, node: 'node-9000', output: 'a.txt.gz' },
    { index: 1, state: 'failed', exitCode: 2, node: 'node-9001', error: 'exit code 2' },
    { index: 2, state: 'done', exitCode: 0, node: 'node-9000', output: 'c.txt.gz' },
  ],
};

/** A schedule two of whose firings were skipped, as `/api/jobs/{ticket}` serves it. */
export const SKIPPING_SCHEDULE = {
  ticket: '01M8N9FWE35RCC0TX6RB836C66',
  state: 'scheduled',
  type: 'echo',
  args: ['tick'],
  cron: '* * * * *',
  next: '2026-11-30T04:00:00.000Z',
  skipped: 2,
  runs: [{ ticket: '01M8N9FWE35RCC0TX6RB836C67', state: 'queued' }],
};

/** Two minutes of the past, one sample a second, ending where the fake clock starts. */
function historyJson(): string {
  const samples = [];
  for (let i = 120; i > 0; i--) {
    samples.push({ t: fake.time - i * 1000, queued: 3, nodes: { 'node-9000': 2, 'node-9001': 4 } });
  }
  return JSON.stringify({ periodMs: 1000, samples });
}

export function startServer(teardown: (fn: () => unknown) => void): Promise<string> {
  const html = dashboardHtml();
  const past = historyJson();
  const server = http.createServer((req, res) => {
    if (req.url === '/api/history') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(past);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else if (req.url === `/api/jobs/${TASKS_JOB.ticket}`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(TASKS_JOB));
    } else if (req.url === `/api/jobs/${SKIPPING_SCHEDULE.ticket}`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(SKIPPING_SCHEDULE));
    } else if (req.url?.startsWith('/api/schedules?')) {
      const list = fake.schedules ?? { schedules: [], total: 0 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
    } else if (req.url?.startsWith('/api/jobs?')) {
      const before = new URL(req.url, 'http://x').searchParams.get('before') ?? '';
      const page = fake.jobPages?.[before] ?? { jobs: [] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
    } else if (req.url === '/api/cluster' && fake.failing) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
    } else if (req.url === '/api/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(clusterJson());
    } else {
      res.writeHead(404).end();
    }
  });
  teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    });
  });
}
