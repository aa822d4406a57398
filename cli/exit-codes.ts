import { WireError, type WireCode } from '../shared/errors.js';
import type { JobResult } from '../client/index.js';

/**
 * What `petrel` exits with, so scripts can tell outcomes apart. Petrel's own failures use the
 * BSD sysexits numbers, out of the way of a job's usual exit codes (`petrel run` exits with
 * the job's own code).
 */
export const EXIT = {
  OK: 0,
  /** A job failed or was cancelled (wait, result of a failed job in scripts). */
  JOB_FAILED: 1,
  /** Bad arguments or a request the node refused as malformed. */
  USAGE: 64,
  /** No such ticket. */
  NOT_FOUND: 66,
  /** No node answers, or the cluster cannot answer now. */
  UNAVAILABLE: 69,
  /** The output could not be written (other than its reader going away). */
  IO_ERROR: 74,
  /** Not finished within --timeout, or the node is busy: try again later. */
  TEMPFAIL: 75,
  /** The token is missing or wrong, or the action is not allowed. */
  NOPERM: 77,
  /** `petrel map`: a task failed or was cancelled (xargs's code when a command failed). */
  TASKS_FAILED: 123,
  /** `petrel run`: the job ran out of its timeoutMs (as `timeout(1)` does). */
  JOB_TIMEOUT: 124,
  /** `petrel run`: the program could not be started. */
  NOT_STARTED: 127,
  /** Interrupted (Ctrl-C), the job cancelled. */
  INTERRUPTED: 130,
  /**
   * Whoever read the output went away (`petrel ls | head -1`): what a shell reports for a
   * program killed by SIGPIPE (128 + 13), as `seq 1 100000 | head -1` gets.
   */
  BROKEN_PIPE: 141,
} as const;

const BY_CODE: Record<WireCode, number> = {
  BAD_REQUEST: EXIT.USAGE,
  UNKNOWN_COMMAND: EXIT.USAGE,
  TOO_LARGE: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  UNAUTHORIZED: EXIT.NOPERM,
  FORBIDDEN: EXIT.NOPERM,
  BUSY: EXIT.TEMPFAIL,
  TIMEOUT: EXIT.TEMPFAIL,
  UNAVAILABLE: EXIT.UNAVAILABLE,
};

export function exitCodeOfError(err: unknown): number {
  return err instanceof WireError ? BY_CODE[err.code] : EXIT.UNAVAILABLE;
}

/**
 * A node's reasons a program could not start: `cannot run <program>: ...` (no such program,
 * permission denied) and a working directory it cannot use (`cwd <dir> does not exist on
 * this node`, is not a directory, is not absolute).
 */
const NOT_STARTED = /^(cannot run |cwd )|spawn|ENOENT|EACCES|not found/i;

/** `petrel run`: the job's own exit code, or what a shell would say for how it ended. */
export function exitCodeOfJob(r: JobResult): number {
  if (typeof r.exitCode === 'number') return r.exitCode;
  if (r.state === 'done') return EXIT.OK;
  if (r.state === 'cancelled') return EXIT.INTERRUPTED;
  if (r.error?.startsWith('TIMEOUT')) return EXIT.JOB_TIMEOUT;
  if (r.error && NOT_STARTED.test(r.error)) return EXIT.NOT_STARTED;
  return EXIT.JOB_FAILED;
}
