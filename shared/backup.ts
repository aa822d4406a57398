import { dirname, resolve } from 'node:path';
import { PetrelError } from './errors.js';
import { newerFileMessage, schemaAction } from './schema-version.js';

/**
 * `petrel-proxy --backup <file>` / `petrel-node --backup <file>`: a consistent copy of the
 * process's database file, taken while it runs. This module holds the decisions (what the
 * arguments ask for, which files may be read and written, the lines printed); the copy itself
 * is `writeBackup` in backup-copy.ts.
 */

/** The option, alone or as `--backup=<file>`. */
const OPTION = '--backup';

/** What `--backup` asks for: the file to write, or a usage problem (exit code 2). */
export type BackupRequest = { file: string } | { problem: string };

/**
 * The backup the arguments ask for; undefined when they ask for none (or for `--help`,
 * which wins as it does for every other argument), so the positional arguments are read as
 * before. `who` names the program in the usage line.
 */
export function backupRequest(argv: readonly string[], who: string): BackupRequest | undefined {
  if (argv.some((a) => a === '--help' || a === '-h')) return undefined;
  const at = argv.findIndex((a) => a === OPTION || a.startsWith(`${OPTION}=`));
  if (at < 0) return undefined;
  const word = argv[at] as string;
  const joined = word !== OPTION;
  const file = joined ? word.slice(OPTION.length + 1) : argv[at + 1];
  const usage = `${who} --backup <file>`;
  // a following option is not a file name (`--backup --help` is caught above)
  if (file === undefined || file === '' || (!joined && file.startsWith('-'))) {
    return { problem: `--backup needs the path of the file to write: ${usage}` };
  }
  if (argv.length !== (joined ? 1 : 2)) {
    return {
      problem:
        `--backup takes one file and no other arguments (${usage}); its settings, DATA_DIR ` +
        'among them, are environment variables, as the running process has them',
    };
  }
  return { file };
}

/** What the checks need to know of the file system (the real one in backup-copy.ts). */
export interface PathFacts {
  exists(path: string): boolean;
  isDirectory(path: string): boolean;
  /** Whether this user may create files in the directory `path`. */
  writable(path: string): boolean;
}

/**
 * The refusal for a database file that is not there: the backup runs beside the process,
 * and only the same DATA_DIR (from the same environment or .env) finds its file.
 */
export function sourceProblem(
  file: string,
  dataDir: string,
  who: string,
  facts: PathFacts,
): PetrelError | undefined {
  if (facts.exists(file) && !facts.isDirectory(file)) return undefined;
  return new PetrelError(
    'ERR_DATA_DIR',
    `no database at ${file}: DATA_DIR (${resolve(dataDir)}) must be the one the ${who} to ` +
      'back up uses; run this with its environment (or from the directory of its .env)',
  );
}

/** The refusal for a destination a backup must not write: it never overwrites a file. */
export function destinationProblem(dest: string, facts: PathFacts): PetrelError | undefined {
  const file = resolve(dest);
  const dir = dirname(file);
  const refuse = (text: string) => new PetrelError('ERR_BACKUP', text);
  if (facts.exists(file)) {
    return refuse(
      `${file} already exists: a backup never overwrites a file; name a new one, or move ` +
        'that one away first',
    );
  }
  if (!facts.exists(dir)) {
    return refuse(`the directory ${dir} does not exist: create it, or name a file elsewhere`);
  }
  if (!facts.isDirectory(dir)) {
    return refuse(`${dir} is not a directory: name a file in a directory`);
  }
  if (!facts.writable(dir)) {
    return refuse(
      `cannot create files in ${dir} (permission denied): name a file in a directory this ` +
        'user can write',
    );
  }
  return undefined;
}

/**
 * The refusal for a file whose schema version this release does not write: one of a newer
 * release is told as the process itself tells it (`ERR_DB_NEWER`), so its copy is made by
 * that release.
 */
export function versionProblem(file: string, found: number, ours: number): PetrelError | undefined {
  switch (schemaAction(found, ours, true)) {
    case 'newer':
      return new PetrelError('ERR_DB_NEWER', newerFileMessage(file, found, ours));
    case 'invalid':
      return new PetrelError(
        'ERR_DB_UNREADABLE',
        `database file ${file} has schema version ${found}, which no Petrel release writes: ` +
          'it is not a Petrel database; check DATA_DIR',
      );
    default:
      return undefined;
  }
}

/** A file size for people: `512 B`, `12.3 KiB`, `279.3 MiB`, `1.2 GiB`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

/** The one line a finished backup prints. */
export function backupLine(
  who: string,
  db: string,
  dest: string,
  size: number,
  schema: number,
): string {
  return `${who}: backup of ${db} written to ${dest} (${formatSize(size)}, schema ${schema})`;
}
