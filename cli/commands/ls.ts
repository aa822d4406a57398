import type { Command } from 'commander';
import { JOB_STATES, type JobResult, type JobState } from '../../client/index.js';
import { WireError } from '../../shared/errors.js';
import { action, common, int, out, withClient, type CommonOptions } from '../context.js';
import { duration } from '../format.js';

interface LsOptions extends CommonOptions {
  state?: string;
  limit?: number;
  long?: boolean;
}

export function register(program: Command): void {
  common(
    program
      .command('ls')
      .description('list the jobs submitted through this node, newest first')
      .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`)
      .option('--limit <n>', 'at most this many', int('--limit', 1))
      .option(
        '-l, --long',
        "a row per job with its exit code, node, submission time, run time, runs and error (--json: each job's result)",
      ),
  ).action(
    action(async (opts: LsOptions) => {
      const state = opts.state;
      if (state !== undefined && !(JOB_STATES as readonly string[]).includes(state)) {
        throw new WireError('BAD_REQUEST', `--state takes one of ${JOB_STATES.join(', ')}`);
      }
      await withClient(opts, async (c) => {
        const jobs = await c.list({ state: state as JobState | undefined });
        const shown = jobs.slice(0, opts.limit ?? jobs.length);
        if (!opts.long) {
          if (opts.json) out(JSON.stringify(shown));
          else for (const j of shown) out(`${j.ticket}  ${j.state}`);
          return;
        }
        // one RESULT per job, all sent at once on the client's pipelined connection; a job
        // whose result expired since the LIST (RESULT_TTL) is left out
        const results = (
          await Promise.all(shown.map((j) => c.result(j.ticket).catch(gone)))
        ).filter((r): r is JobResult => r !== null);
        if (opts.json) out(JSON.stringify(results));
        else if (results.length > 0) out(longTable(results));
      });
    }),
  );
}

function gone(err: unknown): null {
  if (err instanceof WireError && err.code === 'NOT_FOUND') return null;
  throw err;
}

const HEADER = ['TICKET', 'STATE', 'EXIT', 'NODE', 'SUBMITTED', 'RAN', 'RUNS', 'ERROR'];

/** `petrel ls -l`: aligned columns, the error (or what the job waits for) last, unpadded. */
export function longTable(results: readonly JobResult[]): string {
  const rows = results.map((r) => [
    r.ticket,
    r.state,
    typeof r.exitCode === 'number' ? String(r.exitCode) : '-',
    r.node ?? '-',
    r.submittedAt ?? '-',
    r.startedAt && r.finishedAt
      ? duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt))
      : '-',
    String(r.runs?.length ?? 0),
    r.error ?? (r.waiting ? `(${r.waiting})` : ''),
  ]);
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
