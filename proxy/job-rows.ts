import type { JobSpec } from '../shared/job.js';
import type { JobResult, RunView } from '../shared/job-view.js';
import type { JobRecord, ProxyState } from './job-store.js';
import { resultJson, type JobTexts } from './job-text.js';

/** A row of the jobs table as SQLite returns it. */
export interface Raw {
  id: string;
  spec: string;
  origin: string;
  submitted_at: number;
  seq: number;
  state: ProxyState;
  node: string | null;
  attempt: number;
  lost_runs: number;
  given: string;
  started_at: number | null;
  result: string | null;
  delivered: number;
  parent: string | null;
  task_index: number | null;
  due_at: number | null;
  failed_runs: number;
  runs: string | null;
}

/**
 * The `runs` column of a job: empty when its result lists exactly these runs (as a finished
 * job's result does), so a finishing job's row does not carry its runs twice; read back from
 * the result then.
 */
export function runsColumn(j: JobRecord): string | null {
  const listed = j.result?.runs;
  if (listed && listed.length === j.runs.length && listed.every((x, i) => x === j.runs[i])) {
    return null;
  }
  if (j.runs.length === 0) return listed ? '[]' : null;
  return JSON.stringify(j.runs);
}

export function fromRaw(r: Raw): JobRecord {
  const result = r.result === null ? null : (JSON.parse(r.result) as JobResult);
  return {
    id: r.id,
    spec: JSON.parse(r.spec) as JobSpec,
    origin: r.origin,
    submittedAt: r.submitted_at,
    seq: r.seq,
    state: r.state,
    node: r.node,
    attempt: r.attempt,
    lostRuns: r.lost_runs,
    placed: false,
    given: r.given === '' ? [] : r.given.split(','),
    startedAt: r.started_at,
    result,
    delivered: r.delivered === 1,
    parent: r.parent,
    index: r.task_index,
    dueAt: r.due_at,
    failedRuns: r.failed_runs,
    runs: r.runs === null ? [...(result?.runs ?? [])] : (JSON.parse(r.runs) as RunView[]),
  };
}

/** The finish statement's values (state, result, finished_at, node, delivered, runs, id). */
export type FinishValues = [string, string, number, string | null, number, string | null, string];

/** The result columns of a finished job, as they are now (for `UPDATE … WHERE id`). */
export function finishValues(j: JobRecord & JobTexts): FinishValues {
  const r = j.result as JobResult;
  const delivered = j.delivered ? 1 : 0;
  return [j.state, resultJson(j), r.finishedAt, j.node, delivered, runsColumn(j), j.id];
}

/** A list's window: its filter (`@states`: a JSON list, or null; `@tenant`, or null) and bounds. */
export interface WindowArgs {
  states: string | null;
  tenant: string | null;
  before: string;
  window: number;
  need: number;
}

/**
 * The rows a list reads: the newest `@window` below `@before` of the primary key, or of a
 * state's partial index (`only`: failed, cancelled), so a statement never reads more.
 */
function windowOf(columns: string, only?: 'failed' | 'cancelled'): string {
  const inIndex = only === undefined ? '' : ` AND state = '${only}'`;
  return `SELECT ${columns} FROM jobs WHERE id < @before${inIndex} ORDER BY id DESC LIMIT @window`;
}

/**
 * Of a list's window, at most `@need` rows in any of `@states` and of `@tenant` (absent in
 * the spec: the default tenant), newest first; SQLite stops reading once it has them.
 */
export function listSql(only?: 'failed' | 'cancelled'): string {
  return `SELECT * FROM (${windowOf('*', only)})
    WHERE (@states IS NULL OR state IN (SELECT value FROM json_each(@states)))
    AND (@tenant IS NULL OR coalesce(json_extract(spec, '$.tenant'), 'default') = @tenant)
    ORDER BY id DESC LIMIT @need`;
}

/** How many rows a list's window holds (fewer than `@window`: the file's end) and its oldest. */
export function extentSql(only?: 'failed' | 'cancelled'): string {
  return `SELECT count(*) AS n, min(id) AS oldest FROM (${windowOf('id', only)})`;
}
