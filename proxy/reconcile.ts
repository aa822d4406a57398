import { isTerminal } from '../shared/job.js';
import type { FrameOf } from '../shared/protocol.js';
import type { Assignments } from './assignments.js';
import type { Counters } from './counters.js';
import type { Intake } from './intake.js';
import type { JobTable } from './job-table.js';
import type { JobTasks } from './job-tasks.js';
import type { NodeEntry } from './membership.js';

export interface ReconcileDeps {
  table: JobTable;
  assignments: Assignments;
  intake: Intake;
  tasks: JobTasks;
  count: Counters;
}

/** Matches what a joining node holds against what the proxy believes; returns its drops. */
export function reconcile(
  n: NodeEntry,
  holds: FrameOf<'HELLO'>['holds'],
  d: ReconcileDeps,
): string[] {
  const drop: string[] = [];
  const held = new Set<string>();
  // a copy the proxy has no live job for is looked up in its table in a few statements
  const stored = d.table.storedAmong(holds.map((h) => h.id));
  const find = (id: string) => (stored.has(id) ? d.table.find(id) : undefined);
  for (const h of holds) {
    held.add(h.id);
    const job = d.table.get(h.id);
    if (job && !isTerminal(job.state) && job.node === n.id) {
      job.placed = true;
      if (h.state === 'running') job.state = 'running';
      continue;
    }
    if (job && job.state === 'queued' && h.state !== 'finished' && d.tasks.mayQueue(job)) {
      // its copy is still waiting here and nobody else has it: give it back to this node
      // (a task beyond its job's concurrency is dropped instead, and runs in its turn)
      d.assignments.unqueue(job);
      d.assignments.assign(job, n);
      job.placed = true;
      continue;
    }
    if (h.state === 'finished' && job && !isTerminal(job.state)) {
      // its result wins; a queued job forwarded again to a new leader was given to nobody yet
      if (!job.given.includes(n.id)) job.given.push(n.id);
      continue;
    }
    if (!job && !find(h.id) && d.intake.adopt(n, h)) continue;
    if (h.state === 'finished') {
      // A finished copy of a job already decided is a second run, unless the recorded result
      // is this very copy (the node died before it heard the proxy's ACK).
      const rec = job ?? find(h.id);
      const same = rec?.result?.node === n.id && rec.result.attempt === h.attempt;
      if (rec && !same && rec.state !== 'cancelled') d.count.bump('duplicates');
    }
    drop.push(h.id);
  }
  // jobs the proxy believes are on this node but that it no longer holds go back to the queue
  for (const job of [...n.jobs]) {
    if (!held.has(job.id) && job.placed) d.assignments.requeue(job, false);
  }
  return drop;
}
