import type { JobRecord } from '../../proxy/job-store.js';
import { newTicket } from '../../shared/ids.js';
import { JobSpecSchema, type JobSpec } from '../../shared/job.js';
import type { JobResult } from '../../shared/job-view.js';

/**
 * A job as the proxy stores it once it ran on `n1` (its origin too) and finished `done` 1 ms
 * after its submission; `delivered` says whether the origin acknowledged the result.
 */
export function finishedRecord(o: {
  spec: JobSpec;
  submittedAt: number;
  seq: number;
  delivered: boolean;
  output: string;
}): JobRecord {
  const id = newTicket(o.submittedAt);
  const finishedAt = o.submittedAt + 1;
  const result = { id, state: 'done', exitCode: 0, output: o.output, node: 'n1', attempt: 1 };
  return {
    id,
    spec: o.spec,
    origin: 'n1',
    submittedAt: o.submittedAt,
    seq: o.seq,
    state: 'done',
    node: 'n1',
    attempt: 1,
    lostRuns: 0,
    placed: false,
    given: ['n1'],
    startedAt: o.submittedAt,
    result: { ...result, startedAt: finishedAt, finishedAt } as JobResult,
    delivered: o.delivered,
    parent: null,
    index: null,
    dueAt: null,
    failedRuns: 0,
    runs: [],
  };
}

/** The result of an `echo x` that ran on node `a` at `at` (a node's ticket store tests). */
export function echoResult(id: string, at: number): JobResult {
  return {
    id,
    state: 'done',
    exitCode: 0,
    output: 'x',
    error: null,
    node: 'a',
    attempt: 1,
    startedAt: at,
    finishedAt: at,
  };
}

/** A finished `echo` job in `state`, of `tenant` (none: the default tenant), the seq-th of its kind. */
export function endedRecord(
  seq: number,
  state: 'done' | 'failed' | 'cancelled',
  tenant?: string,
): JobRecord {
  const spec = JobSpecSchema.parse({ type: 'echo', args: ['x'], ...(tenant ? { tenant } : {}) });
  const j = finishedRecord({
    spec,
    submittedAt: 1_700_000_000_000 + seq,
    seq,
    delivered: true,
    output: 'x',
  });
  return { ...j, state, result: { ...j.result, state } as JobResult };
}
