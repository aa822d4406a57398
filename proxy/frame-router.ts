import type { Frame } from '../shared/protocol.js';
import type { Assignments } from './assignments.js';
import type { Cancels } from './cancels.js';
import type { Intake } from './intake.js';
import type { LogRelay } from './log-relay.js';
import type { Membership, NodeEntry } from './membership.js';
import type { NodeReports } from './node-reports.js';
import type { NodeSessions } from './node-sessions.js';
import type { OriginLookups } from './origin-lookups.js';
import type { Rerun } from './rerun.js';
import type { Results } from './results.js';
import type { Schedules } from './schedules.js';
import type { TicketViews } from './ticket-views.js';

/** The concept modules a joined node's frames go to. */
export interface FrameRoutes {
  readonly members: Membership;
  readonly assignments: Assignments;
  readonly sessions: NodeSessions;
  readonly reports: NodeReports;
  readonly intake: Intake;
  readonly schedules: Schedules;
  readonly rerun: Rerun;
  readonly results: Results;
  readonly lookups: OriginLookups;
  readonly views: TicketViews;
  readonly cancels: Cancels;
  readonly logs: LogRelay;
}

/** Hands one validated frame from the joined node `n` to the module it concerns. */
export function routeFrame(d: FrameRoutes, n: NodeEntry, frame: Frame): void {
  switch (frame.type) {
    case 'INFO':
      if (d.members.noteInfo(n, frame)) d.assignments.refresh(n);
      if (frame.workers) d.sessions.noteWorkers(n, frame.workers);
      for (const s of frame.started) d.reports.onStarted(n, s.id, s.at);
      return;
    case 'JOB':
      return d.intake.onForwarded(n, d.schedules.take(n.id, frame.jobs));
    case 'ACK':
      d.reports.onPlaced(n, frame.jobs);
      d.rerun.onReopened(frame.reopened);
      return d.results.onDelivered(n, frame.results);
    case 'RESULT':
      d.assignments.noteRuns(n, frame.results);
      return d.results.onResults(n, frame.results);
    case 'RES_REQ':
      // an origin's answer to a lookup this proxy asked for
      if (frame.reqId !== undefined) return d.lookups.answered(n.id, frame.reqId, frame.views);
      return d.reports.onResReq(n, frame);
    case 'REQUEST_OF_RES':
      return d.views.answerViews(n, frame.ids, frame.reqId);
    case 'CANCEL':
      return d.cancels.onCancel(n, frame.ids, frame.reqId);
    case 'LOG_READ':
      return d.logs.read(n.id, frame);
    case 'LOG_DATA':
      return d.logs.data(n.id, frame);
    case 'CLAIM':
      return d.intake.onClaim(n, frame.reqId, frame.job);
    case 'RETRY':
      return d.rerun.onRetry(n, frame.reqId, frame.ids);
    default:
      n.conn?.close(1008, `${frame.type} is not a node's frame`);
  }
}
