import type { JobSpec } from '../shared/job.js';
import type { OpenTicket } from './origin.js';

/** What a job weighs against MAX_OPEN_JOBS: the proxy holds a record per task. */
export function weightOf(spec: Pick<JobSpec, 'tasks'>): number {
  return spec.tasks?.length ?? 1;
}

/**
 * The origin's open tickets, keeping their weight (`weightOf`: a job of many tasks counts
 * as its tasks) as they come and go, so MAX_OPEN_JOBS is checked in constant time. Every
 * part of the origin that adds or ends a ticket goes through `set` and `delete`.
 */
export class OpenTickets extends Map<string, OpenTicket> {
  /** The open tickets' weight: their jobs and tasks. */
  weight = 0;

  override set(id: string, t: OpenTicket): this {
    const before = super.get(id);
    if (before) this.weight -= weightOf(before.spec);
    this.weight += weightOf(t.spec);
    return super.set(id, t);
  }

  override delete(id: string): boolean {
    const before = super.get(id);
    if (before) this.weight -= weightOf(before.spec);
    return super.delete(id);
  }

  override clear(): void {
    this.weight = 0;
    super.clear();
  }
}
