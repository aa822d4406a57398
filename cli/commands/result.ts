import type { Command } from 'commander';
import { asPrinted, summary } from '../format.js';
import { registerTicketCommand } from '../tickets.js';

export function register(program: Command): void {
  registerTicketCommand(program, {
    name: 'result',
    description: "print a job's result as known so far: a summary line, then its output",
    call: (c, t) => c.result(t),
    human: (r) => summary(r) + (r.output ? `\n${asPrinted(r.output).replace(/\n$/, '')}` : ''),
    json: (r) => r,
  });
}
