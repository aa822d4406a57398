import { z } from 'zod';
import { JobSpecSchema, NodeIdSchema, TicketSchema, TYPE_NAME_RE } from '../shared/job.js';
import type { WireJob } from '../shared/protocol.js';
import type { ScheduleRecord } from './schedule-store.js';
import { runSpec } from './schedules.js';

/**
 * What a proxy group keeps in etcd rather than in each proxy's own file: the schedules (with
 * the runs each fired that have not finished) and the custom job types workers registered.
 * Only the leader writes, each write fenced by its election key, and a new leader reads it all
 * when it takes over. Plain data and functions: the etcd edge is `etcd-group-store.ts`.
 */

/** Where a group's state lives in etcd (`cluster`: ETCD_PREFIX, the election's name). */
export interface GroupKeys {
  schedules: string;
  types: string;
  /** One key per node that joined a leader: a new leader knows whom to wait for. */
  nodes: string;
}

export function groupKeys(cluster: string): GroupKeys {
  return {
    schedules: `/petrel/${cluster}/schedules/`,
    types: `/petrel/${cluster}/types/`,
    nodes: `/petrel/${cluster}/nodes/`,
  };
}

/** A run a schedule fired that has not finished yet (a new leader issues it again). */
export interface PendingRun {
  ticket: string;
  /** When it fired: the run's submittedAt. */
  at: number;
}

export interface GroupSchedule {
  record: ScheduleRecord;
  pending: PendingRun[];
}

const PendingSchema = z.object({ ticket: TicketSchema, at: z.number().int() }).strict();

const StoredSchedule = z
  .object({
    id: TicketSchema,
    spec: JobSpecSchema,
    origin: NodeIdSchema,
    submittedAt: z.number().int(),
    tz: z.string().min(1),
    nextDue: z.number().int().nullable(),
    state: z.enum(['active', 'cancelled']),
    runs: z.array(TicketSchema),
    cancelledAt: z.number().int().nullable(),
    pending: z.array(PendingSchema),
  })
  .strict();

/** A schedule as its etcd value. */
export function encodeSchedule(s: ScheduleRecord, pending: readonly PendingRun[]): string {
  return JSON.stringify({ ...s, pending });
}

/** A schedule read back from etcd; undefined (with why) when the value is not one. */
export function decodeSchedule(text: string): GroupSchedule | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { error: 'not JSON' };
  }
  const parsed = StoredSchedule.safeParse(raw);
  if (!parsed.success) return { error: parsed.error.issues[0]?.message ?? 'invalid' };
  const { pending, ...record } = parsed.data;
  return { record, pending };
}

/** The type a key under `prefix` names, or undefined when it names none. */
export function typeOfKey(key: string, prefix: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const name = key.slice(prefix.length);
  return TYPE_NAME_RE.test(name) ? name : undefined;
}

/** The node id a key under `prefix` names, if it is one. */
export function nodeOfKey(key: string, prefix: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const id = key.slice(prefix.length);
  return NodeIdSchema.safeParse(id).success ? id : undefined;
}

/** A pending run as the job it is: what the schedule fires, under the run's own ticket. */
export function runJob(s: ScheduleRecord, p: PendingRun): WireJob {
  return { id: p.ticket, spec: runSpec(s.spec), origin: s.origin, submittedAt: p.at };
}

/**
 * The runs each schedule fired that have not finished. A run is noted before it is issued and
 * forgotten once it ends, so a leader that dies in between leaves it here for the next one,
 * which issues the same ticket again: a firing is never lost, nor fired under a second ticket.
 */
export class PendingRuns {
  private readonly bySchedule = new Map<string, PendingRun[]>();
  private readonly owner = new Map<string, string>();

  constructor(loaded: Iterable<GroupSchedule> = []) {
    for (const g of loaded) for (const p of g.pending) this.add(g.record.id, p);
  }

  of(schedule: string): PendingRun[] {
    return this.bySchedule.get(schedule) ?? [];
  }

  add(schedule: string, run: PendingRun): void {
    if (this.owner.has(run.ticket)) return;
    this.owner.set(run.ticket, schedule);
    this.bySchedule.set(schedule, [...this.of(schedule), run]);
  }

  /** A run ended; returns its schedule (whose record changed), or undefined if none is its. */
  ended(ticket: string): string | undefined {
    const schedule = this.owner.get(ticket);
    if (schedule === undefined) return undefined;
    this.owner.delete(ticket);
    const rest = this.of(schedule).filter((p) => p.ticket !== ticket);
    if (rest.length) this.bySchedule.set(schedule, rest);
    else this.bySchedule.delete(schedule);
    return schedule;
  }

  /** A schedule was forgotten (expired). */
  drop(schedule: string): void {
    for (const p of this.of(schedule)) this.owner.delete(p.ticket);
    this.bySchedule.delete(schedule);
  }
}

/** How the group's state is written: the leader's fenced etcd writes. */
export interface GroupWriter {
  /** Resolves true once stored; false when this proxy no longer leads (nothing was written). */
  put(key: string, value: string): Promise<boolean>;
  remove(key: string): Promise<boolean>;
}
