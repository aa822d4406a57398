import { parseTicket } from '../shared/ids.js';
import type { JobSpec } from '../shared/job.js';
import { decodeText } from '../shared/worker-text.js';

/**
 * The worker side of the line protocol, as plain text functions. After `WORKER <type> [n]`,
 * the node sends `JOB <ticket> <json>` and `CANCEL <ticket>`; the worker sends
 *
 *   DONE <ticket> [output]      FAIL <ticket> [error]      PROGRESS <ticket> <0-100>
 *   PING                        QUIT
 *
 * The text after the ticket follows the rule in shared/worker-text.ts.
 */

/** Largest concurrency one worker connection may ask for. */
export const MAX_WORKER_CONCURRENCY = 1024;

/** A worker's word about one of its jobs. */
export type JobReport =
  | { verb: 'DONE' | 'FAIL'; ticket: string; text: string }
  | { verb: 'PROGRESS'; ticket: string; percent: number };

export type WorkerLine = JobReport | { verb: 'PING' } | { verb: 'QUIT' };

/** A line the worker got wrong: the wire code and a message saying how to get it right. */
export interface WorkerLineError {
  code: 'BAD_REQUEST' | 'UNKNOWN_COMMAND';
  message: string;
}

const USAGE = {
  DONE: 'usage: DONE <ticket> [output]',
  FAIL: 'usage: FAIL <ticket> [error]',
  PROGRESS: 'usage: PROGRESS <ticket> <0-100>',
} as const;

/** Splits off the first word; the rest keeps its inner spacing. */
function firstWord(s: string): [string, string] {
  const m = /^(\S*)\s*([\s\S]*)$/.exec(s) as RegExpExecArray;
  return [m[1] as string, m[2] as string];
}

/** Parses one line from a worker connection. */
export function parseWorkerLine(line: string): WorkerLine | WorkerLineError {
  const [word, rest] = firstWord(line.trim());
  const verb = word.toUpperCase();
  switch (verb) {
    case 'PING':
    case 'QUIT':
      return { verb };
    case 'DONE':
    case 'FAIL':
    case 'PROGRESS': {
      const [arg, tail] = firstWord(rest);
      if (arg === '') return { code: 'BAD_REQUEST', message: USAGE[verb] };
      const ticket = parseTicket(arg);
      if (!ticket) {
        return {
          code: 'BAD_REQUEST',
          message: `not a ticket: ${arg.slice(0, 40)} (${USAGE[verb]})`,
        };
      }
      if (verb === 'PROGRESS') {
        const p = tail.trim();
        const percent = Number(p);
        if (!/^\d{1,3}(\.\d+)?$/.test(p) || percent > 100) {
          return {
            code: 'BAD_REQUEST',
            message: `progress is a number from 0 to 100, not ${JSON.stringify(p.slice(0, 20))}`,
          };
        }
        return { verb, ticket, percent };
      }
      const text = decodeText(tail);
      if (text === null) {
        return {
          code: 'BAD_REQUEST',
          message: 'text that starts with " must be one JSON string, e.g. "line 1\\nline 2"',
        };
      }
      return { verb, ticket, text };
    }
    default:
      return {
        code: 'UNKNOWN_COMMAND',
        message: `${JSON.stringify(word.slice(0, 32))} on a worker connection: send DONE, FAIL, PROGRESS, PING or QUIT`,
      };
  }
}

/** Parses `WORKER <type> [concurrency]` arguments; a string is the reason it is refused. */
export function parseWorkerArgs(
  rest: string,
  typeOk: (type: string) => string | null,
): { type: string; concurrency: number } | string {
  const words = rest.split(/\s+/).filter(Boolean);
  const [type, n, extra] = words;
  if (type === undefined || extra !== undefined) return 'usage: WORKER <type> [concurrency]';
  const why = typeOk(type);
  if (why) return why;
  if (n === undefined) return { type, concurrency: 1 };
  const concurrency = Number(n);
  if (!/^\d+$/.test(n) || concurrency < 1 || concurrency > MAX_WORKER_CONCURRENCY) {
    return `concurrency is a whole number from 1 to ${MAX_WORKER_CONCURRENCY}`;
  }
  return { type, concurrency };
}

/** The `JOB` line handing a job to a worker. */
export function jobLine(ticket: string, spec: JobSpec, attempt: number): string {
  const body: Record<string, unknown> = { type: spec.type, args: spec.args, attempt };
  if (spec.env !== undefined) body.env = spec.env;
  if (spec.stdin !== undefined) body.stdin = spec.stdin;
  if (spec.timeoutMs !== undefined) body.timeoutMs = spec.timeoutMs;
  return `JOB ${ticket} ${JSON.stringify(body)}`;
}
