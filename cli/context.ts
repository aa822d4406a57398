import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseAddrs } from '../client/addr.js';
import { DEFAULT_REPLY_TIMEOUT_MS } from '../client/reply-deadline.js';
import { DEFAULT_RECONNECT_TIMEOUT_MS } from '../client/client.js';
import { connect, WireError, type Client } from '../client/index.js';
import { exitCodeOfError } from './exit-codes.js';
import { note } from './output.js';

export { note, out, outputLine, outText } from './output.js';

export interface CommonOptions {
  addr: string;
  token?: string;
  replyTimeout?: number;
  reconnectTimeout?: number;
  json?: boolean;
}

/**
 * Adds the options every subcommand takes: --addr, --token, --reply-timeout,
 * --reconnect-timeout, --json.
 */
export function common(cmd: Command, json = true): Command {
  cmd.addOption(
    new Option('--addr <host:port>', 'a node of the cluster (a comma list for several)')
      .env('PETREL_ADDR')
      .default(DEFAULT_ADDR)
      .argParser(address),
  );
  cmd.addOption(new Option('--token <token>', "the node's CLIENT_TOKEN").env('PETREL_TOKEN'));
  cmd.addOption(
    new Option(
      '--reply-timeout <duration>',
      'a node silent this long on a call (or a PING while quiet) counts as hung (ms, or 15s, 1m, ...); 0 never',
    )
      .env('PETREL_REPLY_TIMEOUT')
      .argParser(replyTimeout),
  );
  cmd.addOption(
    new Option(
      '--reconnect-timeout <duration>',
      'how long a call whose connection was lost keeps trying nodes (ms, or 30s, 2m, ...); 0 fails at once',
    )
      .env('PETREL_RECONNECT_TIMEOUT')
      .argParser(reconnectTimeout),
  );
  if (json) cmd.option('--json', 'machine-readable output (JSON)');
  return cmd;
}

/** Connects with the command's options, runs `fn`, closes. */
export async function withClient<T>(
  opts: CommonOptions & { maxWaitConnections?: number },
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await connect({
    addr: opts.addr,
    token: opts.token || undefined, // an empty PETREL_TOKEN means none
    replyTimeoutMs: opts.replyTimeout,
    reconnectTimeoutMs: opts.reconnectTimeout,
    maxWaitConnections: opts.maxWaitConnections,
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** The default node, also for an empty PETREL_ADDR (an empty variable means unset, as for the servers). */
const DEFAULT_ADDR = 'localhost:9000';

/** --reply-timeout / PETREL_REPLY_TIMEOUT, a duration; empty means the library's default. */
function replyTimeout(text: string): number {
  return text.trim() === '' ? DEFAULT_REPLY_TIMEOUT_MS : duration('--reply-timeout')(text.trim());
}

/** --reconnect-timeout / PETREL_RECONNECT_TIMEOUT, a duration; empty means the library's default. */
function reconnectTimeout(text: string): number {
  const value = text.trim();
  return value === '' ? DEFAULT_RECONNECT_TIMEOUT_MS : duration('--reconnect-timeout')(value);
}

/** --addr / PETREL_ADDR: a malformed address is bad usage, told before anything connects. */
function address(text: string): string {
  if (text.trim() === '') return DEFAULT_ADDR;
  try {
    parseAddrs(text);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  return text;
}

/**
 * An action's body: its exit code is returned; an error is one line on stderr (JSON with
 * --json), never a stack trace, and its exit code says what went wrong.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals<CommonOptions>();
    try {
      process.exitCode = (await fn(...args)) ?? 0;
    } catch (err) {
      reportError(err, opts);
      process.exitCode = exitCodeOfError(err);
    }
  };
}

const HINTS: Partial<Record<string, string>> = {
  UNAVAILABLE: 'start a cluster (npm start) or point --addr / PETREL_ADDR at a node',
  UNAUTHORIZED: "give the node's CLIENT_TOKEN with --token or PETREL_TOKEN",
};
const HTTP_HINT =
  "that is an HTTP port: point --addr / PETREL_ADDR at a node's client port (its CLIENT_PORT)";

/** Any failure as a WireError, so it has a code (and an exit code). */
export function asWireError(err: unknown): WireError {
  return err instanceof WireError
    ? err
    : new WireError('UNAVAILABLE', err instanceof Error ? err.message : String(err));
}

/**
 * A failure as a person reads it: the node's message and what to do next. The wire's
 * "authenticate first with AUTH <token>" speaks to someone typing the protocol; here the token
 * is an option.
 */
export function explain(e: WireError): string {
  if (e.code === 'UNAUTHORIZED' && /\bAUTH <token>/.test(e.message)) {
    return `the node asks for a token; ${HINTS.UNAUTHORIZED}`;
  }
  const hint = /^unexpected reply: HTTP\//.test(e.message) ? HTTP_HINT : HINTS[e.code];
  return `${e.message}${hint && !e.message.includes(hint) ? `; ${hint}` : ''}`;
}

function reportError(err: unknown, opts: CommonOptions): void {
  const e = asWireError(err);
  if (opts.json) note(JSON.stringify({ error: { code: e.code, message: e.message } }));
  else note(`petrel: ${explain(e)}`);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration option into milliseconds: a whole number is milliseconds (`1500`, as the
 * spec's fields and the variables take them); a number with a unit is read in it (`500ms`,
 * `2s`, `1.5m`, `2h`, `1d`), rounded to the millisecond.
 */
export function duration(name: string, min = 0) {
  return (text: string): number => {
    const m = /^(\d+)(?:(\.\d+)?(ms|s|m|h|d))?$/.exec(text);
    const ms = m ? Math.round(Number((m[1] ?? '') + (m[2] ?? '')) * UNIT_MS[m[3] ?? 'ms']!) : NaN;
    if (!Number.isSafeInteger(ms) || ms < min) {
      const least = min > 0 ? `, at least ${min} ms` : '';
      throw new InvalidArgumentError(
        `${name} takes milliseconds (1500) or a number with a unit (500ms, 2s, 1.5m, 2h, 1d)${least}`,
      );
    }
    return ms;
  };
}

/** Parses a whole number option. */
export function int(name: string, min = 0) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min) {
      throw new InvalidArgumentError(`${name} takes a whole number from ${min}`);
    }
    return n;
  };
}

/** Collects a repeatable option. */
export const collect = (value: string, previous: string[]) => [...previous, value];
/** A repeatable option whose values may each be a comma list: `--after a,b --after c`. */
export const collectList = (value: string, previous: string[]) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== ''),
];
