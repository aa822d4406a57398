import type { JobView } from '../shared/job-view.js';

/**
 * The seed's dialect, with its exact strings, so scripts written for it keep working:
 * `<ms>` submits a sleep job, `r<ticket>` reads a result, `getall` lists, `exit` leaves.
 */
export const SEED = {
  ticket: (t: string) => `Ticket ID: ${t}`,
  badNumber: 'Please enter a valid number.',
  notFound: 'Result: This job could not be found on this node.',
  pending: 'Result: NULL',
  bye: 'Come back later to check your results.',
  resultsHeader: 'Results',
} as const;

/** A number-like line: the seed treats it as a sleep request, valid or not. */
export const SEED_NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** `r` directly followed by something ticket-like: the seed's usual result request. */
export const SEED_RESULT_RE = /^r([0-9A-Za-z]{20,32})$/;

/**
 * The text after the seed's `r` when `line` is the seed's result request: a line that starts
 * with a lower-case `r` and whose first word is not one of the protocol's verbs (`result`,
 * `retry` stay verbs). Whatever follows the `r` is asked for, ticket or not, as the seed did;
 * null for any other line.
 */
export function seedResultArg(line: string, isVerb: (word: string) => boolean): string | null {
  if (!line.startsWith('r')) return null;
  const space = line.search(/\s/);
  const word = space < 0 ? line : line.slice(0, space);
  return isVerb(word.toUpperCase()) ? null : line.slice(1).trim();
}

/** The value the seed prints for a ticket: NULL until finished, then what happened. */
export function seedValue(v: JobView): string {
  switch (v.state) {
    case 'queued':
    case 'running':
      return 'NULL';
    case 'done':
      if (v.type === 'sleep' || v.type === undefined) {
        const ms = v.args?.[0] ?? '0';
        const from = new Date(v.startedAt ?? v.submittedAt).toISOString();
        const to = new Date(v.finishedAt ?? Date.now()).toISOString();
        return `Executed Job[${v.ticket}] for ${ms} milliseconds from ${from} to ${to}`;
      }
      return `Executed Job[${v.ticket}]: ${(v.output ?? '').replace(/\r?\n/g, '\\n')}`;
    default:
      return `Job[${v.ticket}] ${v.state}${v.error ? `: ${v.error}` : ''}`;
  }
}
