/**
 * The schema version a database file carries (SQLite's `PRAGMA user_version`), and what
 * opening it means for this release. 0 is a fresh file, or one made before files carried a
 * version: both are brought up to this release's version once its schema is applied.
 *
 * Each kind of file has its own version, next to its schema (NODE_SCHEMA_VERSION,
 * PROXY_SCHEMA_VERSION). A release bumps it when it changes the file in a way an older
 * release could not read correctly (a table, a column or a meaning the older code would
 * ignore or misread); a change older releases read correctly (an index) needs none.
 */

/**
 * - `create`: a new file; `upgrade`: one of an older release (or from before versions):
 *   apply the schema and migrations, then write this release's version.
 * - `same`: written by this release's version; nothing to write.
 * - `newer`: written by a newer release, whose tables and columns this one may misread:
 *   refuse it, untouched.
 * - `invalid`: a version no Petrel release writes (negative): not a file of this kind.
 */
export type SchemaAction = 'create' | 'upgrade' | 'same' | 'newer' | 'invalid';

/** What to do with a file whose version is `found`, for a release that writes `ours`. */
export function schemaAction(found: number, ours: number, existed: boolean): SchemaAction {
  if (!Number.isInteger(ours) || ours < 1) {
    throw new RangeError(`a schema version is a positive integer, not ${ours}`);
  }
  if (!Number.isInteger(found) || found < 0) return 'invalid';
  if (found > ours) return 'newer';
  if (found === ours) return 'same';
  return existed ? 'upgrade' : 'create';
}

/** The one line that refuses a file written by a newer release. */
export function newerFileMessage(file: string, found: number, ours: number): string {
  return (
    `database file ${file} was written by a newer release of Petrel (schema ${found}; ` +
    `this release reads up to ${ours}): run that release or a later one, or restore a ` +
    'backup made by this release'
  );
}
