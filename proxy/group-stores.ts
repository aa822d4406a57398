import type { WireJob } from '../shared/protocol.js';
import {
  encodeSchedule,
  PendingRuns,
  runJob,
  type GroupKeys,
  type GroupSchedule,
  type GroupWriter,
} from './group-state.js';
import type { ScheduleRecord, ScheduleStorage } from './schedule-store.js';
import type { TypeStorage } from './type-store.js';

type After = (err?: Error) => void;

const notLeading = () => new Error('this proxy no longer leads its group');

/**
 * Schedules of a proxy group, kept in etcd: every change is written (fenced by the leader's
 * election key) before anyone is told of it, and a firing is written before its run is
 * issued, with the run noted as pending until it ends. A leader that takes over loads them
 * all, fires what fell due meanwhile once, and issues again the runs left pending.
 */
export class GroupScheduleStore implements ScheduleStorage {
  private readonly records = new Map<string, ScheduleRecord>();
  private readonly pending: PendingRuns;
  /** Writes not yet confirmed, so that `afterCommit` waits for them. */
  private readonly inflight = new Set<Promise<boolean>>();

  constructor(
    private readonly writer: GroupWriter,
    private readonly keys: GroupKeys,
    loaded: readonly GroupSchedule[],
  ) {
    for (const g of loaded) this.records.set(g.record.id, g.record);
    this.pending = new PendingRuns(loaded);
  }

  all(): ScheduleRecord[] {
    return [...this.records.values()];
  }

  private write(s: ScheduleRecord): Promise<boolean> {
    this.records.set(s.id, s);
    const p = this.writer.put(this.keys.schedules + s.id, encodeSchedule(s, this.pending.of(s.id)));
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private settle(p: Promise<boolean>, after?: After): void {
    p.then(
      (ok) => after?.(ok ? undefined : notLeading()),
      (err: unknown) => after?.(err instanceof Error ? err : new Error(String(err))),
    );
  }

  insert(s: ScheduleRecord, after: After): void {
    this.settle(this.write(s), after);
  }

  fired(s: ScheduleRecord, run: WireJob, issue: () => void): void {
    this.pending.add(s.id, { ticket: run.id, at: run.submittedAt });
    this.settle(this.write(s), (err) => {
      if (!err) issue();
    });
  }

  cancel(s: ScheduleRecord, after: After): void {
    this.settle(this.write(s), after);
  }

  afterCommit(fn: () => void): void {
    if (this.inflight.size === 0) return fn();
    void Promise.allSettled([...this.inflight]).then(fn);
  }

  expire(_before: number, ids: readonly string[]): void {
    for (const id of ids) {
      this.records.delete(id);
      this.pending.drop(id);
      this.settle(this.writer.remove(this.keys.schedules + id));
    }
  }

  unfinishedRuns(): WireJob[] {
    const runs: WireJob[] = [];
    for (const s of this.records.values()) {
      for (const p of this.pending.of(s.id)) runs.push(runJob(s, p));
    }
    return runs;
  }

  runEnded(ticket: string): void {
    const id = this.pending.ended(ticket);
    const s = id === undefined ? undefined : this.records.get(id);
    if (s) this.settle(this.write(s));
  }
}

/**
 * The custom types of a proxy group, one etcd key each: a type is listed to nodes only once
 * its key is written, so a type registered under one leader is known to every later one.
 */
export class GroupTypeStore implements TypeStorage {
  constructor(
    private readonly writer: GroupWriter,
    private readonly keys: GroupKeys,
    private readonly loaded: readonly string[],
  ) {}

  all(): string[] {
    return [...this.loaded].sort();
  }

  add(types: readonly string[], nodeId: string, after: After): void {
    const value = JSON.stringify({ registeredAt: Date.now(), firstNode: nodeId });
    Promise.all(types.map((t) => this.writer.put(this.keys.types + t, value))).then(
      (oks) => after(oks.every(Boolean) ? undefined : notLeading()),
      (err: unknown) => after(err instanceof Error ? err : new Error(String(err))),
    );
  }
}

/**
 * The nodes of a proxy group, one etcd key each: written when a node first joins a leader,
 * removed once a leader forgot it (away long, holding nothing). A leader that takes over counts
 * them as away until they join it, so a ticket that none of the nodes joined so far knows is
 * not declared unknown while its origin may simply not have joined yet.
 */
export class GroupNodeStore {
  private readonly known: Set<string>;

  constructor(
    private readonly writer: GroupWriter,
    private readonly keys: GroupKeys,
    loaded: readonly string[],
  ) {
    this.known = new Set(loaded);
  }

  all(): string[] {
    return [...this.known];
  }

  /** `id` joined this leader: recorded once (a leader that cannot write any more records nothing). */
  joined(id: string): void {
    if (this.known.has(id)) return;
    this.known.add(id);
    const value = JSON.stringify({ joinedAt: Date.now() });
    this.writer.put(this.keys.nodes + id, value).catch(() => this.known.delete(id));
  }

  /** `id` was forgotten: later leaders need not wait for it. */
  forgotten(id: string): void {
    if (!this.known.delete(id)) return;
    this.writer.remove(this.keys.nodes + id).catch(() => {});
  }
}
