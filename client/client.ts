import type tls from 'node:tls';
import type { JobResultJson, JobState } from '../shared/api.js';
import { WireError } from '../shared/errors.js';
import { parseTicket } from '../shared/ids.js';
import type { OutputLine } from '../shared/run-log-format.js';
import type { JobSpecInput } from '../shared/job.js';
import { parseAddrs } from './addr.js';
import { LineConnection, replyError, type ConnectionOptions } from './line-connection.js';
import { DEFAULT_REPLY_TIMEOUT_MS, msError, replyTimeoutError } from './reply-deadline.js';
import { PetrelWorker, type WorkerHandler, type WorkerOptions } from './worker.js';

/** How long calls wait for a node to answer again after a connection is lost, by default (ms). */
export const DEFAULT_RECONNECT_TIMEOUT_MS = 30_000;

export interface ConnectOptions {
  /** `host:port` of a node, or several (a comma list or an array): any node answers. */
  addr?: string | readonly string[];
  /** The node's CLIENT_TOKEN, sent as `AUTH` on every connection. */
  token?: string;
  /** Connect with TLS (a node with TLS_CERT); an object passes options such as `ca`. */
  tls?: boolean | tls.ConnectionOptions;
  /**
   * How long calls that may be sent again wait for a node to answer after their connection is
   * lost (ms; default 30000). 0: they fail at once, without dialing any node again.
   */
  reconnectTimeoutMs?: number;
  /** How long one connection attempt may take (ms). */
  connectTimeoutMs?: number;
  /**
   * How long the oldest call on a connection may go without a byte of its reply, beyond what
   * it asks the node to hold it (`wait`), before the connection counts as hung (ms; default
   * 15000, 0 never). A `tail` has no such deadline (a job may print nothing for long): when
   * its connection has been quiet for half of it, the node must answer a PING on a second
   * connection within it. A `worker` takes it for its node's answer to the PING it sends when
   * idle.
   */
  replyTimeoutMs?: number;
  /** Connections for calls that hold one open (`wait`, `tail`), beyond the main one. */
  maxWaitConnections?: number;
}

/** A job spec as `SUBMIT <json>` takes it (defaults may be left out; args may be numbers). */
export type SubmitSpec = JobSpecInput;

export type JobResult = JobResultJson;
export interface ListedJob {
  ticket: string;
  state: JobState;
}

/** One WAIT asks for at most this long, so a dead link is noticed between requests. */
const WAIT_CHUNK_MS = 60_000;

/**
 * A client of a Petrel cluster: one object with a small async method per verb. Calls are
 * pipelined on one connection; `wait` and `tail`, which hold a connection until a job ends,
 * get connections of their own so they do not hold up other calls. Lost connections are
 * reopened with backoff, and calls in flight are sent again when that is safe.
 */
export class Client {
  private readonly main: LineConnection;
  private readonly extra: LineConnection[] = [];
  private readonly holds = new Map<LineConnection, number>();
  private readonly maxExtra: number;
  private closing: Promise<void> | undefined;

  /** Use `connect()`. */
  constructor(private readonly connOpts: ConnectionOptions & { maxWaitConnections: number }) {
    this.main = new LineConnection(connOpts);
    this.maxExtra = connOpts.maxWaitConnections;
  }

  /**
   * Opens the main connection (a node answered PING); rejects with UNAVAILABLE when no node
   * answers within connectTimeoutMs.
   */
  async open(): Promise<this> {
    await this.main.open();
    return this;
  }

  /** Submits a job; resolves with its ticket once the node has committed it. */
  async submit(spec: SubmitSpec): Promise<string>;
  async submit(type: string, ...args: Array<string | number>): Promise<string>;
  async submit(spec: SubmitSpec | string, ...args: Array<string | number>): Promise<string> {
    const full: SubmitSpec = typeof spec === 'string' ? { type: spec, args } : spec;
    // without a key a resent SUBMIT could run the job twice, so it is not resent
    const reply = await this.main.request(`SUBMIT ${JSON.stringify(full)}`, {
      resend: typeof full.key === 'string',
    });
    return ok(reply);
  }

  /** The job as known so far. */
  async result(ticket: string): Promise<JobResult> {
    return JSON.parse(ok(await this.main.request(`RESULT ${ticketArg(ticket)}`))) as JobResult;
  }

  async status(ticket: string): Promise<JobState> {
    return ok(await this.main.request(`STATUS ${ticketArg(ticket)}`)) as JobState;
  }

  /**
   * Resolves with the result once the job has finished (done, failed or cancelled). Without
   * `timeoutMs` it waits as long as it takes; with it, it rejects with code TIMEOUT.
   */
  async wait(ticket: string, opts: { timeoutMs?: number } = {}): Promise<JobResult> {
    const t = ticketArg(ticket);
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    return this.hold(async (conn) => {
      for (;;) {
        const chunk = () => Math.max(0, Math.min(WAIT_CHUNK_MS, deadline - Date.now()));
        // the node may hold the reply that long: the reply deadline starts after it
        let ms = 0;
        const [line = ''] = await conn.request(() => `WAIT ${t} ${(ms = Math.round(chunk()))}`, {
          holdMs: () => ms,
        });
        if (line.startsWith('OK ')) return JSON.parse(line.slice(3)) as JobResult;
        const err = replyError(line);
        if (err.code !== 'TIMEOUT') throw err;
        // the node names the last chunk's wait; the caller's is the whole of it
        if (Date.now() >= deadline)
          throw new WireError('TIMEOUT', `not finished after ${opts.timeoutMs} ms`);
      }
    });
  }

  /** Cancels a job; resolves with its state afterwards. */
  async cancel(ticket: string): Promise<JobState> {
    return ok(await this.main.request(`CANCEL ${ticketArg(ticket)}`)) as JobState;
  }

  /** Runs a failed or cancelled job again under the same ticket. */
  async retry(ticket: string): Promise<JobState> {
    const reply = await this.main.request(`RETRY ${ticketArg(ticket)}`, { resend: false });
    return ok(reply) as JobState;
  }

  /**
   * A job's output so far (or one task's): its lines, each with the stream it was printed on
   * (`stdout` or `stderr`), in the order they were printed.
   */
  async logs(ticket: string, opts: { task?: number } = {}): Promise<OutputLine[]> {
    const line = `LOGS ${ticketArg(ticket)}${taskArg(opts.task)}`;
    const ask = async (streams: boolean) => {
      const reply = await this.main.request(streams ? `${line} streams` : line, { shape: 'lines' });
      ok(reply);
      return reply.slice(1).map(streams ? markedLine : stdoutLine);
    };
    return ask(true).catch((err: unknown) => {
      if (knowsNoStreams(err)) return ask(false);
      throw err;
    });
  }

  /**
   * Follows a job's output: `onLine` gets each line as the job prints it, with its stream
   * (`stdout` or `stderr`); resolves with the result once the job has finished.
   */
  async tail(
    ticket: string,
    onLine: (line: OutputLine) => void,
    opts: { task?: number } = {},
  ): Promise<JobResult> {
    const line = `TAIL ${ticketArg(ticket)}${taskArg(opts.task)}`;
    // a TAIL sent again on a new connection starts the output anew: the lines already given
    // are skipped, so a lost connection neither repeats nor loses a line
    let given = 0;
    let skip = 0;
    const follow = (streams: boolean) =>
      this.hold(async (conn) => {
        const text = streams ? `${line} streams` : line;
        const reply = await conn.request(
          () => {
            skip = given;
            return text;
          },
          {
            // no reply deadline (a stream's holdMs is Infinity): a job may print nothing for
            // hours, and the node sends nothing meanwhile; instead, when the connection has
            // been quiet for half of replyTimeoutMs, a node that answers no PING on a second
            // connection within replyTimeoutMs counts as frozen, and the TAIL goes again to
            // the next address (see StreamLiveness)
            shape: 'stream',
            onLine: (text, stream) => {
              if (skip > 0) return void skip--;
              given++;
              onLine({ stream, text });
            },
          },
        );
        return JSON.parse(ok(reply)) as JobResult;
      });
    return follow(true).catch((err: unknown) => {
      if (knowsNoStreams(err)) return follow(false);
      throw err;
    });
  }

  /** This node's tickets, newest first; only those in `state` when given. */
  async list(opts: { state?: JobState } = {}): Promise<ListedJob[]> {
    if (opts.state !== undefined && !/^[a-z]+$/.test(opts.state)) {
      throw new WireError('BAD_REQUEST', `not a state: ${String(opts.state).slice(0, 40)}`);
    }
    const reply = await this.main.request(`LIST${opts.state ? ` ${opts.state}` : ''}`, {
      shape: 'lines',
    });
    ok(reply);
    const jobs = reply.slice(1).map((l) => {
      const [ticket = '', state = ''] = l.split(' ');
      return { ticket, state: state as JobState };
    });
    // a node that lists every state is filtered here, so the answer is the same
    return opts.state ? jobs.filter((j) => j.state === opts.state) : jobs;
  }

  /** This node and the cluster as the proxy sees it. */
  async stats(): Promise<Record<string, unknown>> {
    return JSON.parse(ok(await this.main.request('STATS'))) as Record<string, unknown>;
  }

  async ping(): Promise<void> {
    ok(await this.main.request('PING'));
  }

  /**
   * Serves jobs of a custom `type` with `handler`, on a connection of its own (reconnecting
   * with this client's addresses and token): resolves once the node accepted the worker.
   * `close()` the worker to stop; closing the client does not stop it.
   */
  worker(type: string, handler: WorkerHandler, opts: WorkerOptions = {}): Promise<PetrelWorker> {
    return new PetrelWorker(this.connOpts, type, handler, opts).start();
  }

  /**
   * A connection of its own, with this client's address, token and reconnection, for a
   * role that changes what the connection carries (a worker). The caller closes it.
   */
  dedicatedConnection(): LineConnection {
    return new LineConnection(this.connOpts);
  }

  /** Runs `fn` on a connection that may be held for long without delaying other calls. */
  private async hold<T>(fn: (conn: LineConnection) => Promise<T>): Promise<T> {
    const conn = this.pickLong();
    this.holds.set(conn, (this.holds.get(conn) ?? 0) + 1);
    try {
      return await fn(conn);
    } finally {
      this.holds.set(conn, (this.holds.get(conn) ?? 1) - 1);
    }
  }

  private pickLong(): LineConnection {
    if (this.closing) throw new WireError('UNAVAILABLE', 'the client is closed');
    const free = this.extra.find((c) => (this.holds.get(c) ?? 0) === 0);
    if (free) return free;
    if (this.extra.length < this.maxExtra) {
      const conn = new LineConnection(this.connOpts);
      this.extra.push(conn);
      return conn;
    }
    // all busy: pipeline behind the one holding the fewest calls
    return this.extra.reduce((a, b) =>
      (this.holds.get(a) ?? 0) <= (this.holds.get(b) ?? 0) ? a : b,
    );
  }

  /** Closes every connection; calls still waiting reject. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= Promise.all([this.main, ...this.extra].map((c) => c.close())).then(() => {});
    return this.closing;
  }
}

/**
 * Connects to a node (PING answered) and returns the client. Rejects with a `WireError` of
 * code UNAVAILABLE when no node answers, UNAUTHORIZED when the token is refused.
 */
export async function connect(opts: ConnectOptions = {}): Promise<Client> {
  const replyTimeoutMs = opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
  const reconnectTimeoutMs = opts.reconnectTimeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
  const bad =
    replyTimeoutError(replyTimeoutMs) ??
    msError('reconnectTimeoutMs', reconnectTimeoutMs, {
      min: 0,
      infinite: true,
      note: '0: fail at once, Infinity: never',
    }) ??
    msError('connectTimeoutMs', connectTimeoutMs, { min: 1 });
  if (bad) throw bad;
  const client = new Client({
    addrs: parseAddrs(opts.addr ?? 'localhost:9000'),
    token: opts.token,
    tls: opts.tls === true ? {} : opts.tls || undefined,
    reconnectTimeoutMs,
    connectTimeoutMs,
    replyTimeoutMs,
    backoffBaseMs: 50,
    backoffCapMs: 2_000,
    maxWaitConnections: opts.maxWaitConnections ?? 8,
  });
  try {
    return await client.open();
  } catch (err) {
    await client.close();
    throw err;
  }
}

/** The text after `OK `, or the reply's error thrown. */
function ok(reply: string[]): string {
  const line = reply[0] ?? '';
  if (line === 'OK') return '';
  if (line.startsWith('OK ')) return line.slice(3);
  throw replyError(line);
}

function ticketArg(ticket: string): string {
  const t = typeof ticket === 'string' ? parseTicket(ticket) : null;
  if (!t) throw new WireError('BAD_REQUEST', `not a ticket: ${String(ticket).slice(0, 40)}`);
  return t;
}

function taskArg(task: number | undefined): string {
  if (task === undefined) return '';
  if (!Number.isInteger(task) || task < 0) {
    throw new WireError('BAD_REQUEST', `a task is a whole number from 0: ${task}`);
  }
  return ` ${task}`;
}

/** A line of `LOGS ... streams`: `> <text>` printed on stdout, `2> <text>` on stderr. */
function markedLine(line: string): OutputLine {
  if (line.startsWith('2> ') || line === '2>') return { stream: 'stderr', text: line.slice(3) };
  return { stream: 'stdout', text: line.startsWith('> ') || line === '>' ? line.slice(2) : line };
}

const stdoutLine = (text: string): OutputLine => ({ stream: 'stdout', text });

/**
 * A node from before `streams` read the word as a task: its output then comes without
 * streams, all as stdout (a client newer than its cluster still works).
 */
function knowsNoStreams(err: unknown): boolean {
  return (
    err instanceof WireError && err.code === 'BAD_REQUEST' && err.message.startsWith('task is')
  );
}
