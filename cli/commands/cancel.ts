import type { Command } from 'commander';
import { registerTicketCommand } from '../tickets.js';

export function register(program: Command): void {
  registerTicketCommand(program, {
    name: 'cancel',
    description: 'cancel jobs; prints each state afterwards (a finished job is unchanged)',
    call: (c, t) => c.cancel(t),
    human: (state, t) => `${t} ${state}`,
    json: (state, ticket) => ({ ticket, state }),
  });
}
