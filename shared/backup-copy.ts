import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  backupLine,
  destinationProblem,
  sourceProblem,
  versionProblem,
  type BackupRequest,
  type PathFacts,
} from './backup.js';
import { PetrelError } from './errors.js';
import { reportFatal } from './lifecycle.js';
import { reasonOf } from './startup.js';

/**
 * The copy behind `--backup`: SQLite's `VACUUM INTO`, from a read-only connection of this
 * command's own, while the owning process goes on writing through its connection. The DATA_DIR
 * lock is not taken: the owner holds it, and a reader is no second writer.
 *
 * Why `VACUUM INTO` rather than better-sqlite3's `db.backup()` (SQLite's online backup API):
 * it reads the whole file in one read transaction, so its copy is one snapshot however busy
 * the owner is, and WAL mode lets the owner commit meanwhile. The backup API copies 100 pages
 * a step and starts again from the first page whenever another process commits between two
 * steps. Measured on a 1,000,000-row file (319 MiB, 16 KiB pages) with a writer committing 50
 * rows every 5 ms: `VACUUM INTO` took 1.09 s (1.04 s with no writer); `backup()` took 0.99 s
 * with no writer and had not finished after 120 s with one; `backup()` told to copy every page
 * in one step took 1.07 s. `VACUUM INTO` also leaves out free pages (the copy was 279 MiB) and
 * keeps the page size, auto-vacuum mode and `user_version`. It does not sync its output, so
 * this does, and the copy is written under a temporary name, checked, synced and renamed, so
 * no half-written file ever carries the name asked for.
 */

/** Which database a program backs up. */
export interface BackupTarget {
  dataDir: string;
  /** `node.db`, `proxy.db`. */
  fileName: string;
  /** The schema version this release writes (a newer file is refused). */
  schemaVersion: number;
  /** Marks the copy as a file of its own (proxy.db: a fresh incarnation), before its checks. */
  stamp?: (copy: Database.Database) => void;
}

const realFacts: PathFacts = {
  exists: existsSync,
  isDirectory: (path) => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
  writable: (path) => {
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * Writes a consistent copy of `target`'s database to `dest` (which must not exist), synced to
 * the disk; returns the line that says so. Throws a `PetrelError` naming what to fix.
 */
export function writeBackup(who: string, target: BackupTarget, dest: string): string {
  const db = resolve(join(target.dataDir, target.fileName));
  const out = resolve(dest);
  const refusal =
    sourceProblem(db, target.dataDir, who, realFacts) ?? destinationProblem(out, realFacts);
  if (refusal) throw refusal;
  const source = openSource(db);
  try {
    const schema = readVersion(source, db);
    const newer = versionProblem(db, schema, target.schemaVersion);
    if (newer) throw newer;
    claim(out);
    const partial = join(dirname(out), `.${basename(out)}.${process.pid}.partial`);
    try {
      source.prepare('VACUUM INTO ?').run(partial);
      if (target.stamp) stampCopy(partial, target.stamp);
      checkCopy(partial, schema);
      syncPath(partial);
      renameSync(partial, out); // over the empty file `claim` made, and only that one
      syncPath(dirname(out));
    } catch (err) {
      rmSync(partial, { force: true });
      rmSync(out, { force: true });
      if (err instanceof PetrelError) throw err;
      throw new PetrelError(
        'ERR_BACKUP',
        `cannot write the backup ${out} (${writeReason(err)}); nothing was kept`,
        { cause: err },
      );
    }
    return backupLine(who, db, out, statSync(out).size, schema);
  } finally {
    source.close();
  }
}

/**
 * Runs `--backup` for a main program: prints the success line (exit 0) or one line naming what
 * to fix (2 for a usage problem, 1 otherwise). `target` reads the settings only once the
 * arguments are known to be right.
 */
export function backupCommand(
  who: string,
  request: BackupRequest,
  target: () => BackupTarget,
  out: { stdout: (text: string) => unknown; stderr: (text: string) => unknown } = {
    stdout: (text: string) => process.stdout.write(text),
    stderr: (text: string) => process.stderr.write(text),
  },
): number {
  if ('problem' in request) {
    out.stderr(`${who}: ${request.problem}\n`);
    return 2;
  }
  try {
    out.stdout(writeBackup(who, target(), request.file) + '\n');
    return 0;
  } catch (err) {
    reportFatal(err, who, (text) => out.stderr(text + '\n'));
    return 1;
  }
}

/** The owner's file, read-only: this command never writes it, nor creates a missing one. */
function openSource(file: string): Database.Database {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000'); // the owner may be checkpointing
    return db;
  } catch (cause) {
    throw unreadable(file, cause);
  }
}

function readVersion(db: Database.Database, file: string): number {
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } catch (cause) {
    throw unreadable(file, cause);
  }
}

function unreadable(file: string, cause: unknown): PetrelError {
  return new PetrelError(
    'ERR_DB_UNREADABLE',
    `cannot read the database file ${file} (${writeReason(cause)}): run the backup as the ` +
      'user the process runs as (it needs the file and its -wal and -shm), or check the file',
    { cause },
  );
}

/** Takes the name: fails, without touching it, if a file appeared there since the checks. */
function claim(out: string): void {
  try {
    closeSync(openSync(out, 'wx'));
  } catch (cause) {
    const exists = (cause as { code?: unknown }).code === 'EEXIST';
    throw (
      (exists && destinationProblem(out, realFacts)) ||
      new PetrelError('ERR_BACKUP', `cannot create ${out} (${reasonOf(cause)})`, { cause })
    );
  }
}

/** Writes the copy's stamp, in a connection of its own closed before the checks. */
function stampCopy(file: string, stamp: (copy: Database.Database) => void): void {
  const copy = new Database(file, { fileMustExist: true });
  try {
    stamp(copy);
  } finally {
    copy.close();
  }
}

/** The copy opens, carries the owner's schema version and passes SQLite's quick check. */
function checkCopy(file: string, schema: number): void {
  const copy = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const version = copy.pragma('user_version', { simple: true }) as number;
    const check = copy.pragma('quick_check(1)', { simple: true }) as string;
    if (version !== schema || check !== 'ok') {
      throw new PetrelError(
        'ERR_BACKUP',
        `the copy did not check out (schema ${version} for ${schema}, check: ${check}); ` +
          'nothing was kept: try again, and check the disk if it fails again',
      );
    }
  } finally {
    copy.close();
  }
}

/** fsync of a file, or of a directory (which makes a new name in it durable). */
function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') return 'the disk is full';
  return reasonOf(err).replace(/\s*\n\s*/g, '; ');
}
