import type { Command } from 'commander';
import { action, common, withClient, type CommonOptions } from '../context.js';
import { eachTicket } from '../tickets.js';

export function register(program: Command): void {
  common(
    program
      .command('retry')
      .description('run failed or cancelled jobs again, under the same tickets')
      .argument('<ticket...>'),
  ).action(
    action(async (tickets: string[], opts: CommonOptions) =>
      withClient(opts, (c) =>
        eachTicket(
          tickets,
          opts,
          (t) => c.retry(t),
          (state, t) => `${t} ${state}`,
          (state, ticket) => ({ ticket, state }),
        ),
      ),
    ),
  );
}
