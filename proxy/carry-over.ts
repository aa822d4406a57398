import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/log.js';
import { encodeSchedule, type GroupKeys, type GroupWriter } from './group-state.js';
import type { LoadedGroupState } from './etcd-group-store.js';
import { scheduleOfRow, type ScheduleRecord, type ScheduleRow } from './schedule-store.js';

/** A custom type as the proxy's own file records it. */
export interface LocalType {
  name: string;
  registeredAt: number;
  firstNode: string;
}

/**
 * What a proxy that ran alone brings into its group: its file's active schedules and its types
 * that etcd does not hold yet. What etcd holds wins (it may be newer: another proxy led).
 */
export function toCarry(
  local: { schedules: readonly ScheduleRecord[]; types: readonly LocalType[] },
  group: LoadedGroupState,
): { schedules: ScheduleRecord[]; types: LocalType[] } {
  const held = new Set(group.schedules.map((g) => g.record.id));
  const known = new Set(group.types);
  return {
    schedules: local.schedules.filter((s) => s.state === 'active' && !held.has(s.id)),
    types: local.types.filter((t) => !known.has(t.name)),
  };
}

/**
 * A proxy that joins a group after running alone keeps schedules and types in its own file,
 * which a group leader never reads. At its first term as leader they are written to etcd
 * (fenced like every write of the leader), then deleted from the file, so they are carried
 * once and never brought back after etcd dropped them. Returns the group state with them.
 */
export async function carryOver(
  db: Db,
  writer: GroupWriter,
  keys: GroupKeys,
  group: LoadedGroupState,
  log: Logger,
): Promise<LoadedGroupState> {
  const local = readLocal(db);
  if (local.schedules.length === 0 && local.types.length === 0) return group;
  const carry = toCarry(local, group);
  const writes = [
    ...carry.schedules.map((s) => writer.put(keys.schedules + s.id, encodeSchedule(s, []))),
    ...carry.types.map((t) =>
      writer.put(
        keys.types + t.name,
        JSON.stringify({ registeredAt: t.registeredAt, firstNode: t.firstNode }),
      ),
    ),
  ];
  if (!(await Promise.all(writes)).every(Boolean)) {
    throw new Error('lost the leadership while carrying schedules and types into etcd');
  }
  db.transaction(() => {
    if (hasTable(db, 'schedules')) db.prepare('DELETE FROM schedules').run();
    if (hasTable(db, 'job_types')) db.prepare('DELETE FROM job_types').run();
  })();
  log.info(
    { schedules: carry.schedules.length, types: carry.types.length },
    "carried this proxy's own schedules and types into the group",
  );
  return {
    schedules: [...group.schedules, ...carry.schedules.map((record) => ({ record, pending: [] }))],
    types: [...group.types, ...carry.types.map((t) => t.name)],
  };
}

/** The schedules and types in the proxy's own file (none where it never had the table). */
function readLocal(db: Db): { schedules: ScheduleRecord[]; types: LocalType[] } {
  const schedules = hasTable(db, 'schedules')
    ? db.prepare<[], ScheduleRow>('SELECT * FROM schedules').all().map(scheduleOfRow)
    : [];
  const types = hasTable(db, 'job_types')
    ? db
        .prepare<[], { name: string; registered_at: number; first_node: string }>(
          'SELECT name, registered_at, first_node FROM job_types',
        )
        .all()
        .map((r) => ({ name: r.name, registeredAt: r.registered_at, firstNode: r.first_node }))
    : [];
  return { schedules, types };
}

function hasTable(db: Db, name: string): boolean {
  const row = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name);
  return row !== undefined;
}
