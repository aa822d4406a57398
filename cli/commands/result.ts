import type { Command } from 'commander';
import { action, common, withClient, type CommonOptions } from '../context.js';
import { asPrinted, summary } from '../format.js';
import { eachTicket } from '../tickets.js';

export function register(program: Command): void {
  common(
    program
      .command('result')
      .description("print a job's result as known so far: a summary line, then its output")
      .argument('<ticket...>'),
  ).action(
    action(async (tickets: string[], opts: CommonOptions) =>
      withClient(opts, (c) =>
        eachTicket(
          tickets,
          opts,
          (t) => c.result(t),
          (r) => summary(r) + (r.output ? `\n${asPrinted(r.output).replace(/\n$/, '')}` : ''),
          (r) => r,
        ),
      ),
    ),
  );
}
