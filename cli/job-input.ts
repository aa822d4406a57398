import { InvalidArgumentError } from 'commander';
import { WireError } from '../shared/errors.js';
import { MAX_RETRY_ATTEMPTS, MAX_STDIN_BYTES } from '../shared/job.js';

/**
 * `--retries n`: runs after the first that fails (the spec's `retry.attempts` counts them all,
 * so its limit is one more than this one's, and a refusal names this flag's bound).
 */
export function retriesArg(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > MAX_RETRY_ATTEMPTS - 1) {
    throw new InvalidArgumentError(
      `--retries takes a whole number from 0 to ${MAX_RETRY_ATTEMPTS - 1} (runs after the first)`,
    );
  }
  return n;
}

/**
 * `petrel run --json '{...}'` (or map): their `--json` is only the output's, so the spec would
 * be taken for the program's name; refused with where a spec goes instead.
 */
export function programNotSpec(command: string, program: string): void {
  if (!program.trimStart().startsWith('{')) return;
  throw new WireError(
    'BAD_REQUEST',
    `${command} takes a program, not a job spec: a spec goes to petrel submit --json '{...}'`,
  );
}

/** `NAME=value` pairs as an environment object. */
export function envOf(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0)
      throw new WireError('BAD_REQUEST', `--env takes NAME=value, not ${p.slice(0, 40)}`);
    env[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return env;
}

/** Standard input as text, refused past what a job may take. */
export async function readStdin(limit = MAX_STDIN_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new WireError('TOO_LARGE', `standard input is limited to ${limit} bytes for a job`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Standard input's lines (the last one may lack its newline; empty lines are skipped). */
export async function readLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l !== '');
}
