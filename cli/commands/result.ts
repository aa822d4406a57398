import type { Command } from 'commander';
import type { JobResult } from '../../client/index.js';
import { asPrinted, runLines, summary } from '../format.js';
import { registerTicketCommand } from '../tickets.js';

export function register(program: Command): void {
  registerTicketCommand(program, {
    name: 'result',
    description:
      "print a job's result as known so far: a summary line, its output, then each run when there were several (a schedule's, newest first)",
    call: (c, t) => c.result(t),
    human: (r) =>
      summary(r) +
      (r.output ? `\n${asPrinted(r.output).replace(/\n$/, '')}` : '') +
      scheduleRuns(r) +
      runLines(r)
        .map((l) => `\n${l}`)
        .join(''),
    json: (r) => r,
  });
}

/** A schedule's runs, one line each (newest first, as the node gives them). */
function scheduleRuns(r: JobResult): string {
  if (r.cron === undefined || !r.runs?.length) return '';
  return r.runs.map((run) => `\nrun ${run.ticket ?? '?'}  ${run.state ?? '?'}`).join('');
}
