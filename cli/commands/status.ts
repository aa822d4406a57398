import type { Command } from 'commander';
import { action, common, withClient, type CommonOptions } from '../context.js';
import { eachTicket } from '../tickets.js';

export function register(program: Command): void {
  common(
    program
      .command('status')
      .description(
        "print a job's state (scheduled, blocked, queued, running, done, failed, cancelled)",
      )
      .argument('<ticket...>'),
  ).action(
    action(async (tickets: string[], opts: CommonOptions) =>
      withClient(opts, (c) =>
        eachTicket(
          tickets,
          opts,
          (t) => c.status(t),
          (state, t) => (tickets.length === 1 ? state : `${t} ${state}`),
          (state, ticket) => ({ ticket, state }),
        ),
      ),
    ),
  );
}
