import { isTerminal } from '../shared/job.js';
import type { Logger } from '../shared/log.js';
import type { Assignments } from './assignments.js';
import type { Holding } from './holding.js';
import type { JobTable } from './job-table.js';
import type { JobTasks } from './job-tasks.js';
import type { Membership } from './membership.js';

export interface RecoveryDeps {
  tasks: JobTasks;
  table: JobTable;
  assignments: Assignments;
  members: Membership;
  holding: Holding;
  log: Logger;
}

/** Rebuilds the queue and assignments from SQLite after a start or crash. */
export function recover(d: RecoveryDeps): void {
  const jobs = d.tasks.recover(d.table.recover());
  for (const job of jobs) {
    if (!isTerminal(job.state) && job.node) {
      d.assignments.recovered(job, d.members.entry(job.node));
    }
  }
  // held jobs are admitted once every live job is known, as they look their dependencies up
  for (const job of jobs) {
    if (job.state === 'queued' || job.state === 'scheduled' || job.state === 'blocked') {
      d.holding.admit(job);
    }
  }
  d.members.restartGrace();
  d.log.info(
    { queued: d.assignments.queueLength, live: d.table.size },
    'recovered state from the database',
  );
}
