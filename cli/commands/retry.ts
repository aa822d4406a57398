import type { Command } from 'commander';
import { registerTicketCommand } from '../tickets.js';

export function register(program: Command): void {
  registerTicketCommand(program, {
    name: 'retry',
    description: 'run failed or cancelled jobs again, under the same tickets',
    call: (c, t) => c.retry(t),
    human: (state, t) => `${t} ${state}`,
    json: (state, ticket) => ({ ticket, state }),
  });
}
