import type { Command } from 'commander';
import { JOB_STATES, type JobState } from '../../client/index.js';
import { WireError } from '../../shared/errors.js';
import { action, common, int, out, withClient, type CommonOptions } from '../context.js';

interface LsOptions extends CommonOptions {
  state?: string;
  limit?: number;
}

export function register(program: Command): void {
  common(
    program
      .command('ls')
      .description('list the jobs submitted through this node, newest first')
      .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`)
      .option('--limit <n>', 'at most this many', int('--limit', 1)),
  ).action(
    action(async (opts: LsOptions) => {
      const state = opts.state;
      if (state !== undefined && !(JOB_STATES as readonly string[]).includes(state)) {
        throw new WireError('BAD_REQUEST', `--state takes one of ${JOB_STATES.join(', ')}`);
      }
      const jobs = await withClient(opts, (c) => c.list({ state: state as JobState | undefined }));
      const shown = jobs.slice(0, opts.limit ?? jobs.length);
      if (opts.json) out(JSON.stringify(shown));
      else for (const j of shown) out(`${j.ticket}  ${j.state}`);
    }),
  );
}
