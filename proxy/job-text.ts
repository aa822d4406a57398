import type { JobSpec } from '../shared/job.js';
import { resultJson as resultJsonOf, type JobResult } from '../shared/job-view.js';
import { specJson as specJsonOf } from '../shared/wire-text.js';

/**
 * A job's spec and result as JSON, made once: the proxy stores the same text it sends (the
 * spec in its row and in every dispatch, the result in its row and in every push to the
 * origin), so each is encoded once instead of two or three times. Memory only.
 */
export interface JobTexts extends JobTextSource {
  /** The spec's JSON (a spec never changes once the job exists). */
  specJson?: string;
  /** The JSON of `resultJsonOf`, which is the job's result unless that was replaced since. */
  resultJson?: string;
  resultJsonOf?: JobResult | null;
}

/** What the texts are made of. */
interface JobTextSource {
  spec: JobSpec;
  result: JobResult | null;
}

/**
 * The JSON of the job's spec (written by hand for a plain spec, as a node writes it; any
 * other by `JSON.stringify`).
 */
export function specJson(j: JobTexts): string {
  return (j.specJson ??= specJsonOf(j.spec));
}

/**
 * The JSON of the job's result (`null` when it has none), written straight from it, its
 * members in the schema's order (the same value as `JSON.stringify`'s, which took 1.8 µs for
 * the result and spec of a job that came in a frame, against 1.1 µs so).
 */
export function resultJson(j: JobTexts): string {
  if (j.resultJson === undefined || j.resultJsonOf !== j.result) {
    j.resultJson = j.result === null ? 'null' : resultJsonOf(j.result);
    j.resultJsonOf = j.result;
  }
  return j.resultJson;
}
