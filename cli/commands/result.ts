import type { Command } from 'commander';
import type { JobResult } from '../../client/index.js';
import { asPrinted, summary } from '../format.js';
import { registerTicketCommand } from '../tickets.js';

export function register(program: Command): void {
  registerTicketCommand(program, {
    name: 'result',
    description:
      "print a job's result as known so far: a summary line, then its output (a schedule's runs, newest first)",
    call: (c, t) => c.result(t),
    human: (r) =>
      summary(r) +
      (r.output ? `\n${asPrinted(r.output).replace(/\n$/, '')}` : '') +
      scheduleRuns(r),
    json: (r) => r,
  });
}

/** A schedule's runs, one line each (newest first, as the node gives them). */
function scheduleRuns(r: JobResult): string {
  if (r.cron === undefined || !r.runs?.length) return '';
  return r.runs.map((run) => `\nrun ${run.ticket ?? '?'}  ${run.state ?? '?'}`).join('');
}
