import type http from 'node:http';
import { WireError } from '../shared/errors.js';
import {
  givenParams,
  pathSegment,
  sendError,
  sendJson,
  sendMethodNotAllowed,
} from '../shared/http.js';
import { parseTicket } from '../shared/ids.js';
import { viewToClient, type JobView } from '../shared/job-view.js';
import type { FrameOf } from '../shared/protocol.js';
import { History, sampleOf, type ClusterNumbers } from './history.js';
import { LIST_SCAN_BUDGET } from './job-pages.js';
import { parseJobQuery, parseScheduleQuery } from './job-query.js';
import { readRunLog } from './job-logs.js';
import { jobAccess, type JobAccessRequest } from './job-access.js';
import type { JobFilter, JobPage } from './job-table.js';
import type { LogAsk } from './log-relay.js';

/** How often the history ring takes a sample, and how many it keeps (15 minutes). */
export const HISTORY_PERIOD_MS = 1000;
export const HISTORY_SAMPLES = 900;

/** What the dashboard's API reads from the proxy. */
export interface DashboardSource {
  /** The cluster now, as `/api/cluster` serves it. */
  snapshot(): ClusterNumbers;
  /** Any job the proxy knows, or null. */
  view(ticket: string): JobView | null;
  /** The cluster's newest jobs, filtered: a page. */
  list(filter: JobFilter): JobPage;
  /** The active schedules, the soonest to fire first: `limit` of them, `runs` runs each. */
  schedules(limit: number, runs: number): { schedules: JobView[]; total: number };
  /** Reads a run's output from the node that ran it. */
  readLog(req: LogAsk): Promise<FrameOf<'LOG_DATA'>>;
  /** Runs a failed or cancelled job again; its view once committed, or a WireError. */
  retry(ticket: string): Promise<JobView>;
  /** Cancels a job or a schedule (one that ended is left as it is); its view once committed. */
  cancel(ticket: string): Promise<JobView | null>;
}

/** A route of the API; `jobs`: it shows or changes jobs, so `jobAccess` guards it. */
interface Route {
  readonly method: string;
  readonly path: RegExp;
  readonly handle: Handler;
  readonly jobs?: true;
}

type Handler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  param: string,
  query: URLSearchParams,
) => void | Promise<void>;

/**
 * The JSON the dashboard reads: `/api/cluster` (now), `/api/history` (the recent past, so the
 * page's chart does not start empty), `/api/jobs?state=&tenant=&limit=&before=` (a page of the
 * cluster's newest jobs, and `next` to read on: dead letters with `state=failed`),
 * `/api/jobs/{ticket}` (one job's result; POST `…/retry` and `…/cancel` change it) and
 * `/api/schedules?limit=&runs=` (the active schedules, the soonest to fire first, with their
 * newest runs). The job paths answer only whom `jobAccess` lets in (`DASHBOARD_TOKEN`, or this
 * machine without it).
 */
export class DashboardApi {
  readonly history = new History(HISTORY_SAMPLES);
  private readonly routes: Route[];
  private readonly mayReadJobs: (req: JobAccessRequest) => WireError | null;

  constructor(
    private readonly src: DashboardSource,
    opts: { readonly token?: string } = {},
  ) {
    this.mayReadJobs = jobAccess(opts.token);
    this.routes = [
      { method: 'GET', path: /^\/api\/cluster$/, handle: (_q, res) => this.cluster(res) },
      {
        method: 'GET',
        path: /^\/api\/history$/,
        handle: (_q, res, _t, query) => this.recent(query, res),
      },
      {
        method: 'GET',
        path: /^\/api\/jobs$/,
        handle: (_q, res, _t, query) => this.jobs(query, res),
        jobs: true,
      },
      {
        method: 'GET',
        path: /^\/api\/schedules$/,
        handle: (_q, res, _t, query) => this.schedules(query, res),
        jobs: true,
      },
      {
        method: 'GET',
        path: /^\/api\/jobs\/([^/]+)$/,
        handle: (_q, res, t) => this.job(res, t),
        jobs: true,
      },
      {
        method: 'GET',
        path: /^\/api\/jobs\/([^/]+)\/logs$/,
        handle: (_q, res, t, query) => this.logs(query, res, t),
        jobs: true,
      },
      {
        method: 'POST',
        path: /^\/api\/jobs\/([^/]+)\/retry$/,
        handle: (q, res, t) => this.retry(q, res, t),
        jobs: true,
      },
      {
        method: 'POST',
        path: /^\/api\/jobs\/([^/]+)\/cancel$/,
        handle: (q, res, t) => this.cancel(q, res, t),
        jobs: true,
      },
    ];
  }

  /** Takes one sample of the cluster into the history (the edge calls this periodically). */
  record(): void {
    this.history.push(sampleOf(this.src.snapshot()));
  }

  /** Answers a request under `/api/`; returns false for any other path. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean {
    if (!url.pathname.startsWith('/api/')) return false;
    const matching = this.routes.filter((r) => r.path.test(url.pathname));
    if (matching.length === 0) {
      req.resume();
      sendError(res, new WireError('NOT_FOUND', `no such path: ${url.pathname.slice(0, 80)}`));
      return true;
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = matching.find((r) => r.method === method);
    if (!route) {
      sendMethodNotAllowed(req, res, [...new Set(matching.map((r) => r.method))]);
      return true;
    }
    const refused = route.jobs
      ? this.mayReadJobs({
          peer: req.socket.remoteAddress,
          host: req.headers.host,
          authorization: req.headers.authorization,
        })
      : null;
    if (refused) {
      req.resume();
      sendError(res, refused);
      return true;
    }
    const fail = (err: unknown) => {
      const e = err instanceof WireError ? err : new WireError('UNAVAILABLE', 'internal error');
      sendError(res, e, err instanceof WireError ? undefined : 500);
    };
    try {
      const param = pathSegment(route.path.exec(url.pathname)?.[1] ?? '');
      // an empty parameter is not given; one given twice is refused
      const done = route.handle(req, res, param, givenParams(url.searchParams));
      if (done) done.catch(fail);
    } catch (err) {
      fail(err);
    }
    return true;
  }

  private cluster(res: http.ServerResponse): void {
    sendJson(res, 200, this.src.snapshot());
  }

  private recent(query: URLSearchParams, res: http.ServerResponse): void {
    const since = query.get('since');
    const from = since === null ? -Infinity : Number(since);
    if (since !== null && !Number.isFinite(from)) {
      throw new WireError('BAD_REQUEST', 'since is epoch milliseconds');
    }
    sendJson(res, 200, { periodMs: HISTORY_PERIOD_MS, samples: this.history.since(from) });
  }

  private jobs(query: URLSearchParams, res: http.ServerResponse): void {
    const q = parseJobQuery(query);
    if (!q.ok) throw new WireError('BAD_REQUEST', q.message);
    const { jobs, next, partial } = this.src.list(q.filter);
    const reply: Record<string, unknown> = { jobs: jobs.map(operatorView) };
    if (next !== undefined) reply.next = next;
    if (partial) {
      reply.partial = true;
      reply.note = `a request reads at most ${LIST_SCAN_BUDGET} jobs: pass next as before to read on`;
    }
    sendJson(res, 200, reply);
  }

  private schedules(query: URLSearchParams, res: http.ServerResponse): void {
    const q = parseScheduleQuery(query);
    if (!q.ok) throw new WireError('BAD_REQUEST', q.message);
    const { schedules, total } = this.src.schedules(q.limit, q.runs);
    sendJson(res, 200, { schedules: schedules.map(operatorView), total });
  }

  private job(res: http.ServerResponse, raw: string): void {
    sendJson(res, 200, operatorView(this.known(raw)));
  }

  /** The start of a job's (or a task's: `?task=i`) output, from the node that ran it. */
  private async logs(query: URLSearchParams, res: http.ServerResponse, raw: string) {
    const view = this.known(raw);
    const task = query.get('task');
    if (task !== null && !/^\d{1,5}$/.test(task)) {
      throw new WireError('BAD_REQUEST', 'task is the index of a task: 0, 1, ...');
    }
    const log = await readRunLog(view, task === null ? undefined : Number(task), (r) =>
      this.src.readLog(r),
    );
    sendJson(res, 200, log);
  }

  /**
   * RETRY from the dashboard. Only a request a page's script may send (JSON content type,
   * which a cross-site form cannot set without the proxy's consent) changes anything.
   */
  private async retry(req: http.IncomingMessage, res: http.ServerResponse, raw: string) {
    const ticket = this.changing(req, raw);
    sendJson(res, 200, operatorView(await this.src.retry(ticket)));
  }

  /** CANCEL from the dashboard, guarded as `retry`; a job that ended is answered unchanged. */
  private async cancel(req: http.IncomingMessage, res: http.ServerResponse, raw: string) {
    const ticket = this.changing(req, raw);
    const view = await this.src.cancel(ticket);
    if (!view) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
    sendJson(res, 200, operatorView(view));
  }

  /** The ticket a change names, once the request is one only a page's script may send. */
  private changing(req: http.IncomingMessage, raw: string): string {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new WireError('BAD_REQUEST', 'send Content-Type: application/json');
    }
    req.resume();
    return this.known(raw).ticket;
  }

  /** The view of the ticket in the path; BAD_REQUEST or NOT_FOUND otherwise. */
  private known(raw: string): JobView {
    const ticket = parseTicket(raw);
    if (!ticket) throw new WireError('BAD_REQUEST', `not a ticket: ${raw.slice(0, 40)}`);
    const view = this.src.view(ticket);
    if (!view) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
    return view;
  }
}

/** A job as a client sees it, plus what it runs (an operator reads both). */
export function operatorView(v: JobView): Record<string, unknown> {
  return { ...viewToClient(v), type: v.type, args: v.args };
}
