import type { Command } from 'commander';
import type { Client } from '../client/index.js';
import {
  action,
  asWireError,
  common,
  explain,
  note,
  out,
  withClient,
  type CommonOptions,
} from './context.js';
import { exitCodeOfError } from './exit-codes.js';

/**
 * Runs `fn` for every ticket (pipelined on one connection) and prints the answers in the order
 * given: `human` for a person, the JSON object (one per line) with --json. A ticket that fails
 * prints its error and the exit code reflects it; the others still print.
 */
export async function eachTicket<T>(
  tickets: string[],
  opts: CommonOptions,
  fn: (ticket: string) => Promise<T>,
  human: (value: T, ticket: string) => string,
  json: (value: T, ticket: string) => unknown,
): Promise<number> {
  const settled = await Promise.allSettled(tickets.map((t) => fn(t)));
  let code = 0;
  settled.forEach((s, i) => {
    const ticket = tickets[i] as string;
    if (s.status === 'fulfilled') {
      out(opts.json ? JSON.stringify(json(s.value, ticket)) : human(s.value, ticket));
      return;
    }
    const err = asWireError(s.reason);
    if (opts.json)
      note(JSON.stringify({ ticket, error: { code: err.code, message: err.message } }));
    else note(`petrel: ${ticket}: ${explain(err)}`);
    code = Math.max(code, exitCodeOfError(err));
  });
  return code;
}

/** What a per-ticket subcommand does with each ticket and how it prints the answer. */
export interface TicketCommand<T> {
  name: string;
  description: string;
  call: (client: Client, ticket: string) => Promise<T>;
  human: (value: T, ticket: string, all: string[]) => string;
  json: (value: T, ticket: string) => unknown;
}

/** Registers `petrel <name> <ticket...>`: one request per ticket, answers in order. */
export function registerTicketCommand<T>(program: Command, c: TicketCommand<T>): void {
  common(program.command(c.name).description(c.description).argument('<ticket...>')).action(
    action(async (tickets: string[], opts: CommonOptions) =>
      withClient(opts, (client) =>
        eachTicket(
          tickets,
          opts,
          (t) => c.call(client, t),
          (v, t) => c.human(v, t, tickets),
          c.json,
        ),
      ),
    ),
  );
}
