import { PetrelError } from './errors.js';
import type { Logger } from './log.js';

/**
 * Wires SIGTERM/SIGINT for a main program: the first signal stops gracefully, a second one
 * forces. `exit` is the main program's own (library code never exits the process).
 */
export function onStopSignals(
  log: Logger,
  stop: (force: boolean) => Promise<void>,
  exit: (code: number) => void,
): void {
  let signals = 0;
  const handle = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log.info({ signal }, 'stopping (send the signal again to force)');
      stop(false).then(
        () => exit(0),
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          exit(1);
        },
      );
    } else if (signals === 2) {
      log.warn({ signal }, 'forcing stop');
      stop(true).then(
        () => exit(0),
        () => exit(1),
      );
    } else {
      exit(1);
    }
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}

/**
 * Prints a start-up failure the way an operator needs it: one line, no stack, named once by
 * the program `who` (messages that already start with its name, as configuration refusals do
 * for callers in the same process, are not named twice).
 */
export function reportFatal(err: unknown, who: string, print: (text: string) => void): void {
  const message = err instanceof Error ? err.message : String(err);
  const own = message.startsWith(`${who}: `) ? message.slice(who.length + 2) : message;
  print(`${who}: ${err instanceof PetrelError ? `${err.code}: ` : ''}${own}`);
}
