import type { Command } from 'commander';
import { registerTicketCommand } from '../tickets.js';

export function register(program: Command): void {
  registerTicketCommand(program, {
    name: 'status',
    description:
      "print a job's state (scheduled, blocked, queued, running, done, failed, cancelled)",
    call: (c, t) => c.status(t),
    human: (state, t, all) => (all.length === 1 ? state : `${t} ${state}`),
    json: (state, ticket) => ({ ticket, state }),
  });
}
