import type { Db } from './db.js';

/**
 * Adds the columns a newer version's schema has to a table an older version created
 * (`CREATE TABLE IF NOT EXISTS` leaves an existing table as it was). `columns` maps each name
 * to its definition, as in `ALTER TABLE ... ADD COLUMN`.
 */
export function ensureColumns(db: Db, table: string, columns: Record<string, string>): void {
  const have = new Set(
    (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name),
  );
  for (const [name, def] of Object.entries(columns)) {
    if (!have.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${def}`);
  }
}
