import { ticketTime } from '../shared/ids.js';
import { isTerminal } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import type { Assignments } from './assignments.js';
import { toView, type JobTable } from './job-table.js';
import type { JobTasks } from './job-tasks.js';
import type { JobTypes } from './job-types.js';
import type { Membership, NodeEntry } from './membership.js';
import type { OriginLookups } from './origin-lookups.js';
import type { Schedules } from './schedules.js';

const NO_ANSWER = 'a node that may have issued this ticket did not answer in time, try again';
const MAY_BE_ORIGIN = 'and may have issued this ticket, try again';
const NOT_YET_HERE =
  'the node that issued this ticket has not handed it to the proxy yet, try again';

/**
 * A ticket issued this recently may still be on its way from its origin (its forward leaves
 * after the origin's commit): one the proxy does not know is asked of the nodes, not called
 * unknown. The bound is wide of any forward's delay on a live link and keeps a forged or
 * long-expired ticket from costing a question to every node.
 */
export const RECENT_TICKET_MS = 30_000;

/**
 * Whether `id` was issued within `windowMs` of `now` (either way: clocks differ). The window
 * is at most RESULT_TTL: an older ticket may have been known here and expired.
 */
export function recentTicket(id: string, now: number, windowMs = RECENT_TICKET_MS): boolean {
  return Math.abs(now - ticketTime(id)) < windowMs;
}

/** "node a is away", "nodes a, b are away" (a few named). */
function awayText(ids: string[]): string {
  const named = ids.slice(0, 5).join(', ') + (ids.length > 5 ? ', …' : '');
  return ids.length === 1 ? `node ${named} is away` : `nodes ${named} are away`;
}

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
  /** RESULT_TTL (default: no bound beyond `RECENT_TICKET_MS`). */
  resultTtl?: number;
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

  /**
   * Answers a node's question about `ids` (a lookup, or the state after its CANCEL). Tickets
   * this proxy does not know are asked of the other nodes after a takeover, and always when
   * they are recent. For a CANCEL (`forCancel`), an open ticket only its origin knows was not
   * cancelled: that answer is "try again", which the asking node does until its deadline.
   */
  answerViews(n: NodeEntry, ids: string[], reqId: number | undefined, forCancel = false): void {
    const views = ids.map((id) => this.view(id)).filter((v): v is JobView => v !== null);
    const reply = (found: JobView[]) => n.conn?.send({ type: 'RES_REQ', reqId, views: found });
    if (reqId === undefined || views.length === ids.length) return void reply(views);
    const known = new Set(views.map((v) => v.ticket));
    const now = Date.now();
    const unknown = ids.filter((id) => !known.has(id));
    const recentMs = Math.min(RECENT_TICKET_MS, this.d.resultTtl ?? Infinity);
    if (!this.d.askOrigins && !unknown.some((id) => recentTicket(id, now, recentMs))) {
      return void reply(views);
    }
    const others = this.d.members.connected().filter((x) => x !== n);
    const away = [...this.d.members.nodes.values()].filter((x) => !x.conn).map((x) => x.id);
    this.d.lookups.ask(
      others.map((x) => x.id),
      (node, id) =>
        this.d.members.get(node)?.conn?.send({ type: 'REQUEST_OF_RES', ids: unknown, reqId: id }),
      (found, complete) => {
        const all = [...views, ...found];
        if (forCancel && found.some((v) => !isTerminal(v.state))) {
          const error = { code: 'UNAVAILABLE', message: NOT_YET_HERE } as const;
          return void n.conn?.send({ type: 'RES_REQ', reqId, views, error });
        }
        if ((complete && away.length === 0) || all.length === ids.length) return void reply(all);
        // a node that did not answer, or is away, may be the origin: "no such ticket" would
        // be a guess; the asking node tries again until its client's deadline
        const message = complete ? `${awayText(away)} ${MAY_BE_ORIGIN}` : NO_ANSWER;
        n.conn?.send({
          type: 'RES_REQ',
          reqId,
          views: all,
          error: { code: 'UNAVAILABLE', message },
        });
      },
    );
  }
}
