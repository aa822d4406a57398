import type { Client } from '../client/index.js';
import { asWireError, explain, note } from './context.js';
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
    c.cancel(t).catch((err: unknown) => {
      // a second Ctrl-C closed the client: the cancel may well have arrived, nothing to add
      if (count < 2) note(`petrel: could not cancel ${t}: ${explain(asWireError(err))}`);
    });
  };
  const handler = () => {
    count++;
    if (count === 1 && ticket) cancel(ticket);
    else if (count === 2) {
      const what = ticket ? `; see where ${ticket} is with petrel status ${ticket}` : '';
      note(`petrel: stopped waiting${what}`);
      void c.close();
    }
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
    /** Whether a second Ctrl-C stopped the waiting (the client is closed). */
    get abandoned() {
      return count > 1;
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
