import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PetrelError } from './errors.js';

/**
 * Start-up failures turned into what an operator needs: one line that names the variable or
 * file to change. Every other start-up problem is reported by the code that finds it.
 */

/** The errno code of a system error, if it has one. */
function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A failed `listen` on `host:port`, told by the variables that choose them
 * (`portVar`, `hostVar`). Errors that are not about the address pass through unchanged.
 */
export function listenError(
  err: unknown,
  where: { host: string; port: number; portVar: string; hostVar: string },
): unknown {
  const { host, port, portVar, hostVar } = where;
  switch (errnoOf(err)) {
    case 'EADDRINUSE':
      return new PetrelError(
        'ERR_PORT_UNAVAILABLE',
        `port ${port} on ${host} is already in use (another Petrel or another program): ` +
          `set ${portVar} to a free port`,
      );
    case 'EACCES':
      return new PetrelError(
        'ERR_PORT_UNAVAILABLE',
        `not allowed to listen on port ${port}: set ${portVar} to a port above 1023`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new PetrelError(
        'ERR_PORT_UNAVAILABLE',
        `cannot listen on ${host}: it is not an address of this machine; set ${hostVar} ` +
          '(0.0.0.0 for every address)',
      );
    default:
      return err;
  }
}

/**
 * Checks that the files named by these variables can be read; throws one line naming every
 * one that cannot (TLS_CERT and TLS_KEY both wrong are told at once, not one per restart).
 */
export function checkReadableFiles(files: Record<string, string | undefined>, who: string): void {
  const problems: string[] = [];
  for (const [variable, path] of Object.entries(files)) {
    if (path === undefined) continue;
    let problem: string | undefined;
    try {
      if (statSync(path).isDirectory()) problem = 'it is a directory';
      else accessSync(path, constants.R_OK);
    } catch (err) {
      problem = reasonOf(err);
    }
    if (problem) {
      problems.push(
        `cannot read ${variable}=${resolve(path)} (${problem}): fix the path in ` +
          `${variable} or the file's permissions`,
      );
    }
  }
  if (problems.length > 0) {
    throw new PetrelError('ERR_FILE_UNREADABLE', `${who}: ${problems.join('; ')}`);
  }
}

/** A short reason for a failed file operation. */
export function reasonOf(err: unknown): string {
  switch (errnoOf(err)) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'the disk is full';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/**
 * The program's positional arguments checked before they become a port or a URL:
 * `--help` / `-h` asks for the usage; any other word starting with `-` is an option
 * these programs do not have (their settings are variables). Undefined: go on.
 */
export function argumentsProblem(
  argv: readonly string[],
  usage: string,
): { code: number; text: string } | undefined {
  if (argv.some((a) => a === '--help' || a === '-h')) return { code: 0, text: usage };
  const option = argv.find((a) => a.startsWith('-') && !/^-\d/.test(a));
  if (option === undefined) return undefined;
  return {
    code: 2,
    text: `unknown option ${option}: settings are environment variables (see --help)`,
  };
}
