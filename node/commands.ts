import { timingSafeEqual, createHash } from 'node:crypto';
import { formatErr, WireError } from '../shared/errors.js';
import { parseTicket, TICKET_RE } from '../shared/ids.js';
import {
  CLIENT_STATES,
  isBuiltinType,
  JobSpecSchema,
  TYPE_NAME_RE,
  type ClientState,
  MAX_JOB_MS,
  runAtProblem,
  type JobSpec,
} from '../shared/job.js';
import { viewToClientJson, type JobView } from '../shared/job-view.js';
import type { Reply, Session } from './line-server.js';
import { StreamLines, streamLinesOf } from './log-lines.js';
import { runOf } from './log-reader.js';
import type { OutputLine, OutputPiece } from '../shared/run-log-format.js';
import { plainSpec, plainSubmit } from './plain-submit.js';
import { SEED, SEED_NUMBER_RE, seedResultArg, seedValue } from './seed-dialect.js';
import { orderOf, SessionWrites } from './session-writes.js';
import { parseWorkerArgs } from './worker-protocol.js';

/** What the command layer needs from the node: no sockets, no SQL. */
export interface NodeApi {
  submit(spec: JobSpec): Promise<string>;
  /** As `submit`, saying whether the ticket is new (false: an earlier job had the key). */
  submitJob(spec: JobSpec): Promise<{ ticket: string; created: boolean }>;
  /** A ticket's view, from this node or the proxy; null when nobody knows it. */
  view(ticket: string): Promise<JobView | null>;
  /** Resolves with the terminal view, or 'timeout'; null when unknown. */
  wait(ticket: string, timeoutMs: number, signal: AbortSignal): Promise<JobView | null | 'timeout'>;
  cancel(ticket: string): Promise<JobView | null>;
  /** Tickets issued by this node, newest first; only those in `state` when given. */
  list(limit: number, state?: ClientState): Promise<Array<{ id: string; state: string }>>;
  /** Runs a failed or cancelled job again (RETRY); its view, or null when nobody knows it. */
  retry(ticket: string): Promise<JobView | null>;
  /** Views of tickets issued by this node, newest first. */
  listViews(limit: number): JobView[];
  /**
   * The same, each open ticket in its current state (as STATUS gives it); with an open
   * `state`, the newest in it among all open tickets.
   */
  currentViews(limit: number, state?: ClientState): Promise<JobView[]>;
  stats(): Promise<unknown>;
  /** A run's whole output so far (up to JOB_LOG_LIMIT); null for an unknown ticket. */
  logs(ticket: string, task: number | undefined): Promise<OutputPiece[] | null>;
  /** A run's output as it is produced, then the job's final view (null: the client left). */
  follow(
    first: JobView,
    task: number | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<OutputPiece[], JobView | null>;
  /**
   * Makes this connection a worker of `type` (see worker-session.ts); resolves once the type
   * is known to the cluster, or after a short bounded wait when the proxy cannot say.
   */
  attachWorker(type: string, concurrency: number, session: Session): Promise<void>;
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
  '                            words split as sh does: SUBMIT exec sh -c "echo hi; exit 3"',
  'SUBMIT <json>               {"type","args","priority","timeoutMs","maxAttempts","env","cwd","stdin",...}',
  '                            a schedule: {"type":"echo","args":["tick"],"cron":"*/5 * * * *","tz":"UTC"}',
  '                            (RESULT shows its next firing and runs; CANCEL stops it)',
  '                            e.g. {"type":"exec","args":["cat"],"stdin":"hi","env":{"A":"1"},"cwd":"/srv"}',
  '                            many tasks, one ticket: {"tasks":[{"type":"echo","args":["a"]},...],"speculate":true}',
  '                            "concurrency":8 with tasks: at most 8 of them at once',
  '                            placement: "constraints":{"labels":["gpu"]}, "resources":{"cpu":2,"memMb":512},',
  '                            "tenant":"team-a" (fair share); RESULT says "waiting" when no node fits',
  '  "retry":{"attempts":4,"backoffMs":200}  failed runs run again after 200, 400, 800 ms',
  '  "delayMs":5000 | "runAt":"2027-03-01T09:00:00+01:00"  scheduled until then (a year at most)',
  '  "key":"order-17"            one ticket per key, however often submitted, on any node',
  '  "after":["<ticket>",...]    blocked until those are done (cancelled if one is not)',
  'STATUS <ticket>             scheduled | blocked | queued | running | done | failed | cancelled',
  'RESULT <ticket>             the result as JSON (fields known so far; runs lists every run)',
  'WAIT <ticket> [timeoutMs]   the result once the job is finished',
  'CANCEL <ticket>             cancel a job; answers the state after cancelling',
  'RETRY <ticket>              run a failed or cancelled job again (same ticket, fresh budget;',
  '                            of a job of tasks, its failed and cancelled tasks)',
  'LIST [state]                tickets submitted through this node, only those in state',
  '                            e.g. LIST failed',
  'LOGS <ticket> [task]        OK <n>, then the n lines the job printed so far (JOB_LOG_LIMIT)',
  '                            e.g. LOGS 01M8N8GPXM6C8T3FQY2ECZ0VBG',
  'TAIL <ticket> [task]        "> <line>" per line as printed, then the final result as WAIT',
  '                            e.g. TAIL 01M8N8GPXM6C8T3FQY2ECZ0VBG',
  '  ... [task] streams        LOGS and TAIL keep stdout and stderr apart: "> <line>" for a',
  '                            line of stdout, "2> <line>" for one of stderr',
  '                            e.g. TAIL 01M8N8GPXM6C8T3FQY2ECZ0VBG streams',
  'STATS                       the cluster as the proxy sees it',
  'WORKER <type> [concurrency] serve jobs of <type> on this connection (JOB lines come; answer DONE/FAIL)',
  'AUTH <token>                authenticate (when the node requires a token)',
  'PING | HELP | QUIT',
  'Seed dialect: <ms> submits a sleep job, r<ticket> reads its result, getall, exit',
];

/** getall lists up to `listLimit` tickets; each value is clipped so the reply stays small. */
const GETALL_VALUE_CHARS = 200;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

const OPEN_VERBS = new Set(['AUTH', 'PING', 'HELP', 'QUIT']);
/** Every verb of the protocol, the seed's words included. */
const VERBS = new Set([
  ...OPEN_VERBS,
  ...['EXIT', 'GETALL', 'SUBMIT', 'STATUS', 'RESULT', 'WAIT', 'CANCEL', 'RETRY', 'LIST'],
  ...['STATS', 'LOGS', 'TAIL', 'WORKER'],
]);
const isVerb = (word: string) => VERBS.has(word);
const ok = (text: string): Reply => ({ text: `OK ${text}` });
const err = (code: Parameters<typeof formatErr>[0], message?: string): Reply => ({
  text: formatErr(code, message),
});

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Why a worker may not serve `type`, or null. */
function workerTypeProblem(type: string): string | null {
  if (!TYPE_NAME_RE.test(type)) {
    return 'a job type is a name of [a-z][a-z0-9._-], at most 64 characters';
  }
  if (isBuiltinType(type)) return `${type} is built in; a worker serves a type of its own`;
  return null;
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
    const plain = plainSubmit(rest);
    const spec = plainSpec(plain);
    if (spec) return spec;
    candidate = plain;
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
  const far = runAtProblem(parsed.data, Date.now());
  if (far) throw new WireError('BAD_REQUEST', `runAt: ${far}`);
  return parsed.data;
}

/** The optional `[task]` of LOGS and TAIL. */
function taskIndex(arg: string | undefined): number | undefined {
  if (arg === undefined || arg === '') return undefined;
  if (!/^\d{1,5}$/.test(arg)) throw new WireError('BAD_REQUEST', 'task is a task index: 0, 1, ...');
  return Number(arg);
}

/** `<ticket> [task] [streams]` of LOGS and TAIL. */
function logArgs(rest: string, verb: string) {
  const words = rest === '' ? [] : rest.split(/\s+/);
  const streams = words.length > 1 && words[words.length - 1]?.toLowerCase() === 'streams';
  if (streams) words.pop();
  if (words.length > 2) {
    throw new WireError('BAD_REQUEST', `usage: ${verb} <ticket> [task] [streams]`);
  }
  return { ticket: words[0], task: taskIndex(words[1]), streams };
}

/** A line as LOGS `streams` and TAIL give it: "> " before stdout's, "2> " before stderr's. */
const marked = (l: OutputLine) => (l.stream === 'stderr' ? `2> ${l.text}` : `> ${l.text}`);

/**
 * TAIL's lines: "> <line>" per output line (stderr's "2> <line>" with `streams`), then the
 * job's final result as WAIT gives it.
 */
async function* tailLines(
  output: AsyncGenerator<OutputPiece[], JobView | null>,
  streams: boolean,
): AsyncGenerator<string, string> {
  const show = streams ? marked : (l: OutputLine) => `> ${l.text}`;
  const lines = new StreamLines();
  let r = await output.next();
  while (!r.done) {
    for (const line of lines.push(r.value)) yield show(line);
    r = await output.next();
  }
  for (const line of lines.end()) yield show(line);
  return r.value ? `OK ${viewToClientJson(r.value)}` : formatErr('UNAVAILABLE', 'stopped');
}

/**
 * Turns one client line into one reply. Verbs are case-insensitive; the seed's dialect is
 * recognised first so its users' scripts work unchanged.
 */
export function createCommandHandler(api: NodeApi, opts: CommandOptions) {
  const tokenDigest = opts.clientToken === undefined ? undefined : digest(opts.clientToken);

  const ticketArg = (arg: string | undefined, verb: string, usage = `${verb} <ticket>`) => {
    if (!arg || /\s/.test(arg)) throw new WireError('BAD_REQUEST', `usage: ${usage}`);
    // a ticket as this node wrote it (the usual case) needs none of parseTicket's mending
    const t = TICKET_RE.test(arg) ? arg : parseTicket(arg);
    if (!t) throw new WireError('BAD_REQUEST', `not a ticket: ${arg.slice(0, 40)}`);
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

  const respond = async (rawLine: string, session: Session): Promise<Reply> => {
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
      const seedR = seedResultArg(line, isVerb);
      if (seedR !== null) return await seedResult(seedR);

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
          if (rest === '') return err('BAD_REQUEST', 'usage: AUTH <token>');
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
          const usage = 'WAIT <ticket> [timeoutMs]';
          const [arg, msArg, ...extra] = rest.split(/\s+/);
          const ticket = ticketArg(extra.length > 0 ? undefined : arg, 'WAIT', usage);
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
        case 'RETRY': {
          const v = await api.retry(ticketArg(rest, 'RETRY'));
          if (!v) return err('NOT_FOUND', `no such ticket: ${rest}`);
          // DESIGN fixes the reply: the job is back in line; STATUS tells whether it first waits
          // for its time (scheduled) or a dependency (blocked)
          return ok('queued');
        }
        case 'LIST': {
          if (rest !== '' && !(CLIENT_STATES as readonly string[]).includes(rest.toLowerCase())) {
            return err(
              'BAD_REQUEST',
              `usage: LIST [state], state one of ${CLIENT_STATES.join(' ')}`,
            );
          }
          const state = rest === '' ? undefined : (rest.toLowerCase() as ClientState);
          const rows = await api.list(opts.listLimit, state);
          return {
            text: [`OK ${rows.length}`, ...rows.map((r) => `${r.id} ${r.state}`)].join('\n'),
          };
        }
        case 'STATS':
          if (rest !== '') return err('BAD_REQUEST', 'usage: STATS');
          return ok(JSON.stringify(await api.stats()));
        case 'LOGS': {
          const args = logArgs(rest, 'LOGS');
          const ticket = ticketArg(args.ticket, 'LOGS', 'LOGS <ticket> [task] [streams]');
          const output = await api.logs(ticket, args.task);
          if (output === null) return err('NOT_FOUND', `no such ticket: ${ticket}`);
          const lines = streamLinesOf(output).map(args.streams ? marked : (l) => l.text);
          return { text: [`OK ${lines.length}`, ...lines].join('\n') };
        }
        case 'TAIL': {
          const { ticket: arg, task, streams } = logArgs(rest, 'TAIL');
          const ticket = ticketArg(arg, 'TAIL', 'TAIL <ticket> [task] [streams]');
          const first = await known(ticket);
          runOf(first, task); // a task it does not have is refused before anything streams
          const output = api.follow(first, task, session.signal);
          return { text: '', stream: tailLines(output, streams) };
        }
        case 'WORKER': {
          const w = parseWorkerArgs(rest, workerTypeProblem);
          if (typeof w === 'string') return err('BAD_REQUEST', w);
          await api.attachWorker(w.type, w.concurrency, session);
          return ok('worker');
        }
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

  const writes = new SessionWrites();
  return function handle(rawLine: string, session: Session): Promise<Reply> {
    const order = orderOf(rawLine, isVerb);
    const earlier = order === 'read' || order === 'change' ? writes.settled(session) : null;
    const reply = earlier
      ? earlier.then(() => respond(rawLine, session))
      : respond(rawLine, session);
    return order === 'write' || order === 'change' ? writes.track(session, reply) : reply;
  };
}
