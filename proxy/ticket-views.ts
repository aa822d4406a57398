import { type JobView } from '../shared/job-view.js';
import type { Assignments } from './assignments.js';
import { toView, type JobTable } from './job-table.js';
import type { JobTasks } from './job-tasks.js';
import type { JobTypes } from './job-types.js';
import type { Membership, NodeEntry } from './membership.js';
import type { OriginLookups } from './origin-lookups.js';
import type { Schedules } from './schedules.js';

export interface TicketViewsDeps {
  table: JobTable;
  assignments: Assignments;
  schedules: Schedules;
  tasks: JobTasks;
  types: JobTypes;
  members: Membership;
  lookups: OriginLookups;
  /** Tickets unknown here are asked of the nodes (a proxy that took over a group). */
  askOrigins?: boolean;
}

/** What a client sees of a ticket, and the answers to nodes that ask for views. */
export class TicketViews {
  constructor(private readonly d: TicketViewsDeps) {}

  /** A client's view of any ticket the proxy knows. */
  view(id: string): JobView | null {
    const { schedules, types, table, assignments, tasks } = this.d;
    const scheduled = schedules.view(id);
    if (scheduled) return types.explain(scheduled);
    const job = table.find(id);
    if (!job) return null;
    const v = toView(job);
    const waiting = assignments.waiting(job);
    if (waiting) v.waiting = waiting;
    const labels = job.spec.constraints?.labels;
    return types.explain(tasks.view(id, v) ?? v, labels, assignments.nodeLabels);
  }

  answerViews(n: NodeEntry, ids: string[], reqId: number | undefined): void {
    const views = ids.map((id) => this.view(id)).filter((v): v is JobView => v !== null);
    const reply = (found: JobView[]) => n.conn?.send({ type: 'RES_REQ', reqId, views: found });
    if (!this.d.askOrigins || reqId === undefined || views.length === ids.length) {
      return void reply(views);
    }
    const known = new Set(views.map((v) => v.ticket));
    const unknown = ids.filter((id) => !known.has(id));
    const others = this.d.members.connected().filter((x) => x !== n);
    this.d.lookups.ask(
      others.map((x) => x.id),
      (node, id) =>
        this.d.members.get(node)?.conn?.send({ type: 'REQUEST_OF_RES', ids: unknown, reqId: id }),
      (found) => reply([...views, ...found]),
    );
  }
}
