import type { JobSpec } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';

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

/** The JSON of the job's spec. */
export function specJson(j: JobTexts): string {
  return (j.specJson ??= JSON.stringify(j.spec));
}

/** The JSON of the job's result (`null` when it has none). */
export function resultJson(j: JobTexts): string {
  if (j.resultJson === undefined || j.resultJsonOf !== j.result) {
    j.resultJson = JSON.stringify(j.result);
    j.resultJsonOf = j.result;
  }
  return j.resultJson;
}
