import { timingSafeEqual, createHash } from 'node:crypto';
import { formatErr, WireError } from '../shared/errors.js';
import { parseTicket } from '../shared/ids.js';
import {
  JobSpecSchema,
  MAX_JOB_MS,
  viewToClientJson,
  type JobSpec,
  type JobView,
} from '../shared/job.js';
import type { Reply, Session } from './line-server.js';
import { SEED, SEED_NUMBER_RE, SEED_RESULT_RE, seedValue } from './seed-dialect.js';

/** What the command layer needs from the node: no sockets, no SQL. */
export interface NodeApi {
  submit(spec: JobSpec): Promise<string>;
  /** A ticket's view, from this node or the proxy; null when nobody knows it. */
  view(ticket: string): Promise<JobView | null>;
  /** Resolves with the terminal view, or 'timeout'; null when unknown. */
  wait(ticket: string, timeoutMs: number, signal: AbortSignal): Promise<JobView | null | 'timeout'>;
  cancel(ticket: string): Promise<JobView | null>;
  /** Tickets issued by this node, newest first. */
  list(limit: number): Array<{ id: string; state: string }>;
  /** Views of tickets issued by this node, newest first. */
  listViews(limit: number): JobView[];
  stats(): Promise<unknown>;
}

export interface CommandOptions {
  clientToken: string | undefined;
  /** AUTH failures after which the connection is closed. */
  maxAuthFailures: number;
  listLimit: number;
  defaultWaitMs: number;
  maxWaitMs: number;
}

const HELP = [
  'SUBMIT <type> [arg ...]     submit a job (types: sleep <ms>, echo <text>, exec <program> [arg ...])',
  'SUBMIT <json>               {"type","args","priority","timeoutMs","maxAttempts"}',
  'STATUS <ticket>             queued | running | done | failed | cancelled',
  'RESULT <ticket>             the result as JSON (fields known so far)',
  'WAIT <ticket> [timeoutMs]   the result once the job is finished',
  'CANCEL <ticket>             cancel a job; answers the state after cancelling',
  'LIST                        tickets submitted through this node',
  'STATS                       the cluster as the proxy sees it',
  'AUTH <token>                authenticate (when the node requires a token)',
  'PING | HELP | QUIT',
  'Seed dialect: <ms> submits a sleep job, r<ticket> reads its result, getall, exit',
];

/** getall lists up to `listLimit` tickets; each value is clipped so the reply stays small. */
const GETALL_VALUE_CHARS = 200;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

const OPEN_VERBS = new Set(['AUTH', 'PING', 'HELP', 'QUIT']);
const ok = (text: string): Reply => ({ text: `OK ${text}` });
const err = (code: Parameters<typeof formatErr>[0], message?: string): Reply => ({
  text: formatErr(code, message),
});

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Parses `SUBMIT` arguments: `<type> [arg ...]` or one JSON object. */
export function parseSubmit(rest: string): JobSpec {
  let candidate: unknown;
  if (rest.startsWith('{')) {
    try {
      candidate = JSON.parse(rest);
    } catch {
      throw new WireError('BAD_REQUEST', 'SUBMIT <json>: not valid JSON');
    }
  } else {
    const words = rest.split(/\s+/).filter(Boolean);
    if (words.length === 0) throw new WireError('BAD_REQUEST', 'usage: SUBMIT <type> [arg ...]');
    const [type, ...args] = words;
    candidate = { type: type?.toLowerCase(), args };
    if (type?.toLowerCase() === 'echo') {
      // echo keeps the text as typed, inner spacing included
      const text = rest.replace(/^\S+\s+/, '');
      candidate = { type: 'echo', args: text === '' ? [] : [text] };
    }
  }
  return validateSpec(candidate);
}

/** A job spec checked against the schema; BAD_REQUEST names the first problem. */
export function validateSpec(candidate: unknown): JobSpec {
  const parsed = JobSpecSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new WireError('BAD_REQUEST', `${where}${issue?.message ?? 'invalid job'}`);
  }
  return parsed.data;
}

/**
 * Turns one client line into one reply. Verbs are case-insensitive; the seed's dialect is
 * recognised first so its users' scripts work unchanged.
 */
export function createCommandHandler(api: NodeApi, opts: CommandOptions) {
  const tokenDigest = opts.clientToken === undefined ? undefined : digest(opts.clientToken);

  const ticketArg = (arg: string | undefined, verb: string): string => {
    if (!arg) throw new WireError('BAD_REQUEST', `usage: ${verb} <ticket>`);
    const t = parseTicket(arg);
    if (!t) throw new WireError('NOT_FOUND', `no such ticket: ${arg.slice(0, 40)}`);
    return t;
  };
  const known = async (ticket: string): Promise<JobView> => {
    const v = await api.view(ticket);
    if (!v) throw new WireError('NOT_FOUND', `no such ticket: ${ticket}`);
    return v;
  };

  const seedSubmit = async (line: string): Promise<Reply> => {
    const ms = Number(line);
    if (!/^\+?\d+$/.test(line) || !Number.isSafeInteger(ms) || ms > MAX_JOB_MS) {
      return { text: SEED.badNumber };
    }
    const t = await api.submit({ type: 'sleep', args: [String(ms)], priority: 0, maxAttempts: 3 });
    return { text: SEED.ticket(t) };
  };

  const seedResult = async (arg: string): Promise<Reply> => {
    const t = parseTicket(arg);
    const v = t ? await api.view(t).catch(() => null) : null;
    if (!v) return { text: SEED.notFound };
    return { text: `Result: ${seedValue(v)}` };
  };

  const seedGetAll = (): Reply => {
    const views = api.listViews(opts.listLimit);
    const lines = [
      SEED.resultsHeader,
      ...views.map((v) => `${v.ticket} -> ${clip(seedValue(v), GETALL_VALUE_CHARS)}`),
      '',
    ];
    return { text: lines.join('\n') };
  };

  return async function handle(rawLine: string, session: Session): Promise<Reply> {
    const line = rawLine.trim();
    if (line === '') return err('BAD_REQUEST', 'empty line (try HELP)');
    const space = line.search(/\s/);
    const word = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1).trim();
    const verb = word.toUpperCase();

    if (tokenDigest && !session.authenticated && !OPEN_VERBS.has(verb)) {
      return err('UNAUTHORIZED');
    }

    try {
      if (SEED_NUMBER_RE.test(line)) return await seedSubmit(line);
      const seedR = space < 0 ? SEED_RESULT_RE.exec(line) : null;
      if (seedR && seedR[1]) return await seedResult(seedR[1]);

      switch (verb) {
        case 'PING':
          return ok('PONG');
        case 'HELP':
          return { text: [`OK ${HELP.length}`, ...HELP].join('\n') };
        case 'QUIT':
          return { text: 'OK bye', close: true };
        case 'EXIT':
          return { text: SEED.bye, close: true };
        case 'GETALL':
          return seedGetAll();
        case 'AUTH': {
          if (!tokenDigest) return ok('no token required');
          if (timingSafeEqual(digest(rest), tokenDigest)) {
            session.authenticated = true;
            return ok('authenticated');
          }
          session.authFailures++;
          if (session.authFailures >= opts.maxAuthFailures) {
            return { text: formatErr('UNAUTHORIZED', 'wrong token; closing'), close: true };
          }
          return err('UNAUTHORIZED', 'wrong token');
        }
        case 'SUBMIT':
          return ok(await api.submit(parseSubmit(rest)));
        case 'STATUS':
          return ok((await known(ticketArg(rest, 'STATUS'))).state);
        case 'RESULT':
          return ok(viewToClientJson(await known(ticketArg(rest, 'RESULT'))));
        case 'WAIT': {
          const [arg, msArg] = rest.split(/\s+/);
          const ticket = ticketArg(arg, 'WAIT <ticket> [timeoutMs]');
          let ms = opts.defaultWaitMs;
          if (msArg !== undefined) {
            ms = Number(msArg);
            if (!/^\d+$/.test(msArg) || ms > opts.maxWaitMs) {
              return err(
                'BAD_REQUEST',
                `timeoutMs must be a whole number from 0 to ${opts.maxWaitMs}`,
              );
            }
          }
          const v = await api.wait(ticket, ms, session.signal);
          if (v === null) return err('NOT_FOUND', `no such ticket: ${ticket}`);
          if (v === 'timeout') return err('TIMEOUT', `not finished after ${ms} ms`);
          return ok(viewToClientJson(v));
        }
        case 'CANCEL': {
          const v = await api.cancel(ticketArg(rest, 'CANCEL'));
          if (!v) return err('NOT_FOUND', `no such ticket: ${rest}`);
          return ok(v.state);
        }
        case 'LIST': {
          const rows = api.list(opts.listLimit);
          return {
            text: [`OK ${rows.length}`, ...rows.map((r) => `${r.id} ${r.state}`)].join('\n'),
          };
        }
        case 'STATS':
          return ok(JSON.stringify(await api.stats()));
        default:
          return err(
            'UNKNOWN_COMMAND',
            `unknown command ${JSON.stringify(word.slice(0, 32))} (try HELP)`,
          );
      }
    } catch (e) {
      if (e instanceof WireError) return { text: e.toLine() };
      throw e;
    }
  };
}
