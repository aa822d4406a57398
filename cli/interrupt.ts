import type { Client } from '../client/index.js';
import { note } from './context.js';

/**
 * Ctrl-C while a job runs: the first cancels the job (once it has a ticket: a Ctrl-C before
 * that cancels it as soon as it has one), a second stops waiting for it.
 */
export function onInterrupt(c: Client) {
  let ticket: string | undefined;
  let count = 0;
  const cancel = (t: string) => {
    note(`\npetrel: cancelling ${t} (Ctrl-C again to stop waiting)`);
    c.cancel(t).catch((err: unknown) => note(`petrel: could not cancel ${t}: ${String(err)}`));
  };
  const handler = () => {
    count++;
    if (count === 1 && ticket) cancel(ticket);
    else if (count > 1) void c.close();
  };
  process.on('SIGINT', handler);
  return {
    /** Whether Ctrl-C was pressed. */
    get pressed() {
      return count > 0;
    },
    /** The job running now: the one a Ctrl-C cancels. */
    started(t: string) {
      ticket = t;
      if (count > 0) cancel(t);
    },
    off() {
      process.off('SIGINT', handler);
    },
  };
}
