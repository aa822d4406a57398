import type { JobView } from '../shared/job-view.js';
import type { OpenTicket } from './origin.js';
import { pendingView, viewOfResult } from './results.js';
import type { StartHere } from './start-here.js';
import type { TicketStore } from './ticket-store.js';

/** Where the origin finds what it knows of its own tickets, freshest first. */
export interface LocalViewSources {
  open: ReadonlyMap<string, OpenTicket>;
  here: Pick<StartHere, 'hidden'>;
  /** Results the proxy reported whose commit here has not finished. */
  reportedPending: ReadonlyMap<string, JobView>;
  tickets: Pick<TicketStore, 'get'>;
  nodeId: string;
}

/**
 * A job started here at once (LOCAL_START), running, or ended with a result clients may not see
 * yet: it started as it was submitted (only into a free slot), on this node.
 */
function runningHere(
  id: string,
  t: Pick<OpenTicket, 'spec' | 'submittedAt'>,
  node: string,
): JobView {
  const v = pendingView(id, t.spec, t.submittedAt, 'forwarded');
  return { ...v, state: 'running', node, attempts: 1, startedAt: t.submittedAt };
}

/**
 * A ticket issued here as this node knows it, without asking the proxy: open (accepted, or
 * running here before its ticket commits), reported and committing, or read from the file.
 * Null for a ticket this node did not issue.
 */
export function localView(id: string, s: LocalViewSources): JobView | null {
  const o = s.open.get(id);
  if (o?.startedHere && o.local) return runningHere(id, o, s.nodeId);
  if (o) return pendingView(id, o.spec, o.submittedAt, 'accepted');
  const hidden = s.here.hidden(id);
  if (hidden) return runningHere(id, hidden, s.nodeId);
  const pending = s.reportedPending.get(id);
  if (pending) return pending;
  const row = s.tickets.get(id);
  if (!row) return null;
  if (row.result) return viewOfResult(id, row.spec, row.submittedAt, row.result);
  return pendingView(id, row.spec, row.submittedAt, row.state);
}
