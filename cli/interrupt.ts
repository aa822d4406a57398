import type { Client } from '../client/index.js';
import { note } from './context.js';
import { onOutputClosed } from './output.js';

/**
 * Ctrl-C while a job runs: the first cancels the job (once it has a ticket: a Ctrl-C before
 * that cancels it as soon as it has one), a second stops waiting for it. The reader of the
 * output going away (`petrel run -- yes | head -1`) cancels the job too, quietly: here its
 * program would have died of SIGPIPE.
 */
export function onInterrupt(c: Client) {
  let ticket: string | undefined;
  let count = 0;
  let gone: ((t: string) => void) | undefined;
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
  const offOutput = onOutputClosed(async () => {
    count++;
    const t = ticket ?? (await new Promise<string>((resolve) => (gone = resolve)));
    await c.cancel(t);
  });
  return {
    /** Whether Ctrl-C was pressed (or the output went away). */
    get pressed() {
      return count > 0;
    },
    /** The job running now: the one a Ctrl-C cancels. */
    started(t: string) {
      ticket = t;
      if (gone) gone(t);
      else if (count > 0) cancel(t);
    },
    off() {
      process.off('SIGINT', handler);
      offOutput();
    },
  };
}
