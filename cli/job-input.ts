import { WireError } from '../shared/errors.js';
import { MAX_STDIN_BYTES } from '../shared/job.js';

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
