import type { NodeEntry } from './membership.js';

/**
 * The nodes as `/api/cluster` and the dashboard show them, sorted by id, with the jobs given
 * to them counted by whether they run yet.
 */
export function nodeRows(entries: Iterable<NodeEntry>) {
  let assigned = 0;
  let running = 0;
  const nodes = [...entries]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((n) => {
      for (const j of n.jobs) {
        if (j.state === 'running') running++;
        else assigned++;
      }
      return {
        id: n.id,
        connected: Boolean(n.conn),
        slots: n.slots,
        queued: n.queued,
        running: n.running,
        free: n.free,
        outstanding: n.outstanding,
        done: n.done,
        lastSeen: n.lastSeen,
        /** Custom type → its workers' capacity on this node. */
        workers: Object.fromEntries(n.workers),
      };
    });
  return { nodes, assigned, running };
}
