import type { Logger } from '../shared/log.js';
import type { FrameOf } from '../shared/protocol.js';
import type { JobTypes } from './job-types.js';
import type { LogRelay } from './log-relay.js';
import type { Membership, NodeConn, NodeEntry } from './membership.js';
import type { OriginLookups } from './origin-lookups.js';
import { OPEN_CAPS, type NodeCaps } from './placement.js';
import { reconcile, type ReconcileDeps } from './reconcile.js';
import type { Rerun } from './rerun.js';
import type { Results } from './results.js';

export interface NodeSessionsDeps extends ReconcileDeps {
  members: Membership;
  results: Results;
  rerun: Rerun;
  types: JobTypes;
  lookups: OriginLookups;
  logs: LogRelay;
  log: Logger;
}

/**
 * A node's session with the proxy: it joins (its holds reconciled), is heard from, and leaves
 * or is declared dead, its unfinished jobs going back to the queue.
 */
export class NodeSessions {
  constructor(private readonly d: NodeSessionsDeps) {}

  /** A node said which custom types its workers serve. */
  noteWorkers(n: NodeEntry, workers: FrameOf<'HELLO'>['workers']): void {
    this.d.types.note(n, workers);
    this.d.assignments.want();
  }

  /**
   * A node joined (or rejoined) and says what it holds. Returns the copies it must drop: those
   * given to someone else meanwhile, or already finished elsewhere.
   */
  join(
    nodeId: string,
    slots: number,
    holds: FrameOf<'HELLO'>['holds'],
    conn: NodeConn,
    workers: FrameOf<'HELLO'>['workers'] = [],
    caps: NodeCaps = OPEN_CAPS,
  ): string[] {
    const { members, assignments } = this.d;
    const n = members.attach(nodeId, slots, conn);
    this.noteWorkers(n, workers);
    assignments.setCaps(n, caps);
    const drop = reconcile(n, holds, this.d);
    n.outstanding = n.jobs.size - n.typedJobs;
    assignments.refresh(n);
    // unsent dispatches and undelivered results go (again) now
    for (const job of n.jobs) if (!job.placed) assignments.send(job, n);
    this.d.results.pushTo(nodeId);
    this.d.rerun.rejoined(nodeId);
    assignments.want();
    this.d.log.info({ node: nodeId, slots, holds: holds.length, drop: drop.length }, 'node joined');
    return drop;
  }

  /** The node's connection closed or went silent: its unfinished jobs go back to the queue. */
  leave(nodeId: string, conn: NodeConn, why: string): void {
    const n = this.d.members.detach(nodeId, conn);
    if (!n) return;
    this.d.lookups.gone(nodeId);
    this.d.logs.gone(nodeId);
    this.d.assignments.refresh(n);
    const requeued = this.d.assignments.requeueAll(n);
    this.d.log.warn({ node: nodeId, why, requeued }, 'node left');
    this.d.assignments.want();
  }

  /** Declares nodes dead after `timeoutMs` of silence; returns their ids. */
  expireSilent(timeoutMs: number, now = Date.now()): string[] {
    const { silent, absent } = this.d.members.findDead(timeoutMs, now);
    for (const n of absent) {
      const requeued = this.d.assignments.requeueAll(n);
      this.d.log.warn({ node: n.id, requeued }, 'node did not return');
    }
    for (const n of silent) {
      const conn = n.conn as NodeConn;
      this.leave(n.id, conn, `declared dead after ${now - n.lastSeen} ms of silence`);
      // a node that answers the close in time was alive: the ledger counts it as a mistake
      conn.close(4008, 'declared dead after a silence', this.d.members.graceLeft(n, now));
    }
    return [...absent, ...silent].map((n) => n.id);
  }

  /** A node's heartbeat (its periodic ping) arrived. */
  heartbeat(nodeId: string, conn?: NodeConn): void {
    const n = this.d.members.get(nodeId);
    // a replaced connection's ping says nothing of the node's current one
    if (n?.conn && (conn === undefined || n.conn === conn)) this.d.members.heartbeat(n);
  }

  /** The connection of a node declared dead closed; `answered`: the node took part in the close. */
  verdictSettled(nodeId: string, answered: boolean): void {
    if (this.d.members.suspicions.settle(nodeId, answered, Date.now())) {
      this.d.log.warn({ node: nodeId }, 'a node declared dead answered in time: a false suspicion');
    } else {
      this.d.log.info({ node: nodeId, answered }, 'a node declared dead was cut off');
    }
  }

  /** Verdicts on connected nodes, and those the nodes proved wrong. */
  get suspicions(): { suspicions: number; falseSuspicions: number } {
    const { suspicions, falseSuspicions } = this.d.members.suspicions;
    return { suspicions, falseSuspicions };
  }
}
