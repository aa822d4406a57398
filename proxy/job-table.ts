import { DEFAULT_TENANT, isTerminal, type ClientState } from '../shared/job.js';
import { MAX_RUN_VIEWS, specViewFields, type JobView } from '../shared/job-view.js';
import type { HeapItem } from '../shared/heap.js';
import type { DispatchMeta } from './dispatcher.js';
import type { JobRecord, JobStore, ProxyState } from './job-store.js';
import type { JobTexts } from './job-text.js';

/** A job as the proxy holds it in memory. */
export interface Job extends JobRecord, HeapItem, Omit<JobTexts, 'spec' | 'result'> {
  /** Whether its row exists (or is written by a statement already queued). */
  stored?: boolean;
  /** When the current dispatch or result push was last sent, for resends. */
  sentAt: number;
  /** A task: batch sampling places the tasks of one job together. */
  batch?: string;
  /** The node running a speculative copy of this task, beside `node`. */
  copy?: string;
  /** The dispatcher's note of its class and tenant. */
  dispatchMeta?: DispatchMeta;
}

/** What a new job must be told; everything else starts empty (queued, never run). */
export type NewJob = Pick<Job, 'id' | 'spec' | 'origin' | 'submittedAt' | 'seq'> & Partial<Job>;

/** A job the proxy has just heard of: queued, never run, unless `fields` say otherwise. */
export function newJob(fields: NewJob): Job {
  // every field a job ever has is made here, set or not: it keeps one shape for its life
  const job: Job = {
    id: fields.id,
    spec: fields.spec,
    origin: fields.origin,
    submittedAt: fields.submittedAt,
    seq: fields.seq,
    specJson: undefined,
    resultJson: undefined,
    resultJsonOf: null,
    stored: false,
    batch: undefined,
    copy: undefined,
    dispatchMeta: undefined,
    state: 'queued',
    node: null,
    attempt: 0,
    lostRuns: 0,
    placed: false,
    given: [],
    startedAt: null,
    result: null,
    delivered: false,
    dueAt: null,
    failedRuns: 0,
    runs: [],
    heapIndex: -1,
    sentAt: 0,
    parent: null,
    index: null,
  };
  return Object.assign(job, fields);
}

/** A job of a stored record (one no longer in memory, or read at start-up). */
export function fromRecord(rec: JobRecord): Job {
  const job = newJob(rec);
  job.stored = true;
  job.batch = rec.parent ?? undefined;
  return job;
}

/** What a client calls a proxy state. */
export function clientStateOf(s: ProxyState): ClientState {
  return s === 'assigned' ? 'queued' : s;
}

/** What GET /api/jobs filters on. */
export interface JobFilter {
  state?: ClientState;
  tenant?: string;
  limit: number;
  /** Only jobs older than this ticket. */
  before?: string;
}

/** A page of GET /api/jobs: `next` (pass as `before`) when more may exist; see job-pages.ts. */
export interface JobPage {
  jobs: JobView[];
  next?: string;
  partial?: true;
}

/** A client's view of a job. */
export function toView(job: JobRecord): JobView {
  const r = job.result;
  const state = clientStateOf(job.state);
  const view: JobView = {
    ticket: job.id,
    state,
    exitCode: r?.exitCode,
    output: r?.output,
    error: r?.error,
    node: r?.node ?? job.node,
    attempts: r?.attempt ?? job.attempt,
    submittedAt: job.submittedAt,
    startedAt: r?.startedAt ?? job.startedAt,
    finishedAt: r?.finishedAt,
    type: job.spec.type,
    args: job.spec.args,
    tenant: job.spec.tenant,
    progress: r?.progress,
    tasks: r?.tasks,
  };
  Object.assign(view, specViewFields(job.spec, job.submittedAt));
  if (job.runs.length) view.runs = job.runs.slice(-MAX_RUN_VIEWS);
  // while it waits, the time it waits for (a retry's backoff, too)
  if (job.state === 'scheduled' && job.dueAt !== null) view.runAt = job.dueAt;
  return view;
}

/**
 * The live jobs (not finished, or finished but not yet delivered to their origin) in memory,
 * over the durable table that also holds the delivered ones. Arrival order comes from `seq`.
 */
export class JobTable {
  private readonly live = new Map<string, Job>();
  private seq: number;
  /** Copies adopted from nodes' holds (after a takeover) that may be tasks of a job to come. */
  private readonly adoptedCopies = new Set<string>();

  constructor(private readonly store: JobStore) {
    this.seq = store.maxSeq();
  }

  /** Loads the live rows after a start or crash. */
  recover(): Job[] {
    const jobs = this.store.live().map(fromRecord);
    for (const job of jobs) this.live.set(job.id, job);
    return jobs;
  }

  get size(): number {
    return this.live.size;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** A live job. */
  get(id: string): Job | undefined {
    return this.live.get(id);
  }

  /** Of `ids`, those of jobs not live here but stored (read in a few statements). */
  storedAmong(ids: readonly string[]): Set<string> {
    return this.store.storedAmong(ids.filter((id) => !this.live.has(id)));
  }

  /** A live job, or else the stored one (one read). */
  find(id: string): Job | undefined {
    const live = this.live.get(id);
    if (live) return live;
    const rec = this.store.get(id);
    return rec && fromRecord(rec);
  }

  add(job: Job): void {
    this.live.set(job.id, job);
  }

  delete(id: string): void {
    this.live.delete(id);
  }

  /** A copy held by a node was adopted as a job of its own (it may be a task). */
  noteAdopted(id: string): void {
    // a bound, not a rule: the notes matter only until the origins resend, right after a takeover
    if (this.adoptedCopies.size >= 100_000) this.adoptedCopies.clear();
    this.adoptedCopies.add(id);
  }

  /** The adopted copy `id`, if one was, live or stored; its note is used up. */
  takeAdopted(id: string): Job | undefined {
    return this.adoptedCopies.delete(id) ? this.find(id) : undefined;
  }

  values(): IterableIterator<Job> {
    return this.live.values();
  }

  /**
   * The cluster's newest jobs, filtered. Unfinished jobs are all in memory (where `running`
   * is known); finished ones are read from the table.
   */
  list(f: JobFilter): JobPage {
    const tenantOk = (j: JobRecord) =>
      f.tenant === undefined || (j.spec.tenant ?? DEFAULT_TENANT) === f.tenant;
    if (f.state !== undefined && !isTerminal(f.state)) {
      const before = f.before;
      const matching = [...this.live.values()].filter(
        (j) =>
          clientStateOf(j.state) === f.state &&
          tenantOk(j) &&
          (before === undefined || j.id < before),
      );
      matching.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const jobs = matching.slice(0, f.limit).map(toView);
      return matching.length > f.limit ? { jobs, next: jobs.at(-1)?.ticket } : { jobs };
    }
    const states = f.state === undefined ? undefined : [f.state];
    const { rows, ...more } = this.store.list({
      states,
      tenant: f.tenant,
      limit: f.limit,
      ...(f.before === undefined ? {} : { before: f.before }),
    });
    return { jobs: rows.map((rec) => toView(this.live.get(rec.id) ?? rec)), ...more };
  }

  /** A client's view of any ticket the proxy knows. */
  view(id: string): JobView | null {
    const job = this.find(id);
    return job ? toView(job) : null;
  }
}
