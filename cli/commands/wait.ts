import type { Command } from 'commander';
import type { JobResult } from '../../client/index.js';
import { action, common, duration, withClient, type CommonOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { summary } from '../format.js';
import { WaitProgress } from '../progress.js';
import { eachTicket } from '../tickets.js';

interface WaitOptions extends CommonOptions {
  timeout?: number;
  progress: boolean;
}

export function register(program: Command): void {
  common(
    program
      .command('wait')
      .description(
        'wait until jobs finish and print their results; exits 0 when all are done, ' +
          `${EXIT.JOB_FAILED} when one failed or was cancelled, ${EXIT.TEMPFAIL} on --timeout`,
      )
      .argument('<ticket...>')
      .option(
        '--timeout <duration>',
        'give up after this long (ms, or 30s, 5m, ...)',
        duration('--timeout'),
      )
      .option('--no-progress', 'no progress bar, even on a terminal'),
  ).action(
    action(async (tickets: string[], opts: WaitOptions) =>
      withClient(opts, async (c) => {
        const bar =
          opts.progress && !opts.json && process.stderr.isTTY ? new WaitProgress(c, tickets) : null;
        let failed = false;
        const code = await eachTicket(
          tickets,
          opts,
          async (t) => {
            const r = await c.wait(t, { timeoutMs: opts.timeout });
            bar?.finished(r);
            if (r.state !== 'done') failed = true;
            return r;
          },
          (r: JobResult) => summary(r),
          (r) => r,
        ).finally(() => bar?.stop());
        return code || (failed ? EXIT.JOB_FAILED : EXIT.OK);
      }),
    ),
  );
}
