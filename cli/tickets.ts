import { WireError } from '../shared/errors.js';
import { note, out, type CommonOptions } from './context.js';
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
    const err =
      s.reason instanceof WireError ? s.reason : new WireError('UNAVAILABLE', String(s.reason));
    if (opts.json)
      note(JSON.stringify({ ticket, error: { code: err.code, message: err.message } }));
    else note(`petrel: ${ticket}: ${err.message}`);
    code = Math.max(code, exitCodeOfError(err));
  });
  return code;
}
