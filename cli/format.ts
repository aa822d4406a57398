import type { JobResult } from '../client/index.js';

/** One line about a job: ticket, state, exit code, node, how long it ran, why it failed. */
export function summary(r: JobResult): string {
  const parts = [r.ticket, r.state];
  if (typeof r.exitCode === 'number') parts.push(`exit ${r.exitCode}`);
  if (r.node) parts.push(`on ${r.node}`);
  if (r.startedAt && r.finishedAt) {
    parts.push(duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)));
  }
  if (r.progress) parts.push(`tasks ${r.progress.done}/${r.progress.total} done`);
  if (r.cron !== undefined) parts.push(...scheduleParts(r));
  else if (r.runs && r.runs.length > 1) parts.push(`${r.runs.length} runs`);
  if (r.waiting) parts.push(`(${r.waiting})`);
  if (r.error) parts.push(`error: ${r.error}`);
  return parts.join('  ');
}

/** A schedule's cron and time zone, its next firing and how many runs it shows. */
function scheduleParts(r: JobResult): string[] {
  const parts = [`cron "${r.cron}" ${r.tz ?? 'UTC'}`];
  if (r.next) parts.push(`next ${r.next}`);
  if (r.skipped) parts.push(`${r.skipped} skipped`);
  if (r.runs) parts.push(r.runs.length === 1 ? '1 run' : `${r.runs.length} runs`);
  return parts;
}

/**
 * One line per run of a job that ran more than once (retried after a failure, or run again
 * after its node was lost), oldest first: attempt, node, exit code, time, error.
 */
export function runLines(r: JobResult): string[] {
  if (r.cron !== undefined || !r.runs || r.runs.length < 2) return [];
  return r.runs.map((run) => {
    const parts = [`run ${run.attempt ?? '?'}`];
    if (run.node) parts.push(`on ${run.node}`);
    if (typeof run.exitCode === 'number') parts.push(`exit ${run.exitCode}`);
    if (run.startedAt && run.finishedAt) {
      parts.push(duration(Date.parse(run.finishedAt) - Date.parse(run.startedAt)));
    }
    if (run.error) parts.push(`error: ${run.error}`);
    return parts.join('  ');
  });
}

export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Text as a program printed it, ending with one newline (none when empty). */
export function asPrinted(text: string): string {
  return text === '' || text.endsWith('\n') ? text : text + '\n';
}
