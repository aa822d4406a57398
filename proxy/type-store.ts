import type { Committer, Db } from '../shared/db.js';

/** Every custom job type a worker ever registered: SUBMIT of any other is refused cluster-wide. */
export const TYPE_SCHEMA = `
CREATE TABLE IF NOT EXISTS job_types (
  name TEXT PRIMARY KEY,
  registered_at INTEGER NOT NULL,
  first_node TEXT NOT NULL
) WITHOUT ROWID;
`;

/**
 * Where the registered types are kept: the proxy's own file (`TypeStore`), or, in a proxy
 * group, etcd (`GroupTypeStore`), so that a type registered under one leader is known to the next.
 */
export interface TypeStorage {
  all(): string[];
  /** Records new types; `after` runs once they are durable (with an error when they are not). */
  add(types: readonly string[], nodeId: string, after: (err?: Error) => void): void;
}

/** The `job_types` table. */
export class TypeStore implements TypeStorage {
  private readonly sql;

  constructor(
    db: Db,
    private readonly committer: Committer,
  ) {
    db.exec(TYPE_SCHEMA);
    this.sql = {
      all: db.prepare('SELECT name FROM job_types ORDER BY name'),
      insert: db.prepare(
        'INSERT OR IGNORE INTO job_types (name, registered_at, first_node) VALUES (?, ?, ?)',
      ),
    };
  }

  all(): string[] {
    return (this.sql.all.all() as Array<{ name: string }>).map((r) => r.name);
  }

  /** Records new types in this tick's commit; `after` runs once they are durable. */
  add(types: readonly string[], nodeId: string, after: (err?: Error) => void): void {
    const now = Date.now();
    this.committer.write(() => {
      for (const t of types) this.sql.insert.run(t, now, nodeId);
    }, after);
  }
}
