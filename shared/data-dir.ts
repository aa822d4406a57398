import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PetrelError } from './errors.js';
import { reasonOf } from './startup.js';

/**
 * The directories to create for `dir`, outermost first: `dir` and each missing parent, up to
 * the first that `exists`. Empty when `dir` exists.
 */
export function dirsToMake(dir: string, exists: (path: string) => boolean): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); !exists(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break; // a root that does not exist: mkdir says why
  }
  return missing;
}

/** A refusal naming the data directory and what to do about it. */
export function dataDirError(what: string, reason: string, cause?: unknown): PetrelError {
  return new PetrelError(
    'ERR_DATA_DIR',
    `${what} (${reason}): set DATA_DIR to a directory this user can write, or fix its permissions`,
    { cause },
  );
}

/**
 * Makes sure DATA_DIR exists and this user may write in it; returns its absolute path, or
 * throws naming it. The directories are made one at a time rather than by a recursive
 * `mkdir`: Node's loops forever where a file system refuses new entries without saying so
 * otherwise than ENOENT (`DATA_DIR=/proc/x`).
 */
export function makeDataDir(dataDir: string): string {
  const dir = resolve(dataDir);
  for (const d of dirsToMake(dir, existsSync)) {
    try {
      mkdirSync(d);
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      if (code === 'EEXIST') continue; // made meanwhile by another process
      // the parent exists (it was checked or just made): ENOENT means it takes no new entries
      const reason =
        code === 'ENOENT' && existsSync(dirname(d))
          ? `${dirname(d)} does not accept new directories`
          : reasonOf(cause);
      throw dataDirError(`cannot create the data directory ${dir}`, reason, cause);
    }
  }
  if (!statSync(dir).isDirectory()) {
    throw dataDirError(`cannot use the data directory ${dir}`, 'it is a file, not a directory');
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw dataDirError(`cannot write in the data directory ${dir}`, reasonOf(cause), cause);
  }
  return dir;
}
