import type { Command } from 'commander';
import { action, common, withClient, type CommonOptions } from '../context.js';
import { eachTicket } from '../tickets.js';

export function register(program: Command): void {
  common(
    program
      .command('cancel')
      .description('cancel jobs; prints each state afterwards (a finished job is unchanged)')
      .argument('<ticket...>'),
  ).action(
    action(async (tickets: string[], opts: CommonOptions) =>
      withClient(opts, (c) =>
        eachTicket(
          tickets,
          opts,
          (t) => c.cancel(t),
          (state, t) => `${t} ${state}`,
          (state, ticket) => ({ ticket, state }),
        ),
      ),
    ),
  );
}
