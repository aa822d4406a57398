import { InvalidArgumentError, Option, type Command } from 'commander';
import { connect, WireError, type Client, type OutputLine } from '../client/index.js';
import { exitCodeOfError } from './exit-codes.js';

export interface CommonOptions {
  addr: string;
  token?: string;
  json?: boolean;
}

/** Adds the options every subcommand takes: --addr, --token, --json. */
export function common(cmd: Command, json = true): Command {
  cmd.addOption(
    new Option('--addr <host:port>', 'a node of the cluster (a comma list for several)')
      .env('PETREL_ADDR')
      .default('localhost:9000'),
  );
  cmd.addOption(new Option('--token <token>', "the node's CLIENT_TOKEN").env('PETREL_TOKEN'));
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
    token: opts.token,
    maxWaitConnections: opts.maxWaitConnections,
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export const out = (text: string) => process.stdout.write(text + '\n');
export const note = (text: string) => process.stderr.write(text + '\n');
/** A line of a job's output, on the stream the job printed it on (stdout or stderr). */
export const outputLine = (line: OutputLine) =>
  (line.stream === 'stderr' ? process.stderr : process.stdout).write(line.text + '\n');

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

function reportError(err: unknown, opts: CommonOptions): void {
  const e =
    err instanceof WireError
      ? err
      : new WireError('UNAVAILABLE', err instanceof Error ? err.message : String(err));
  if (opts.json) {
    note(JSON.stringify({ error: { code: e.code, message: e.message } }));
    return;
  }
  const hint = HINTS[e.code];
  note(`petrel: ${e.message}${hint && !e.message.includes(hint) ? `; ${hint}` : ''}`);
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
