import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** A structured JSON logger on stdout; `name` says which process a line came from. */
export function createLogger(name: string, level: string): Logger {
  return pino(
    { name, level, base: { name }, timestamp: pino.stdTimeFunctions.isoTime },
    stdoutLines(),
  );
}

/**
 * stdout, each line written before the call returns. Once a write fails (the pipe's reader
 * is gone: a log shipper that died, `| head`), the lines are dropped and the process goes on
 * serving: otherwise the failed line stays buffered, and at exit pino's writer retries it for
 * ever, so a SIGTERM never ends the process.
 */
function stdoutLines(): DestinationStream {
  const out = pino.destination({ dest: 1, sync: true });
  let gone = false;
  out.on('error', () => {
    gone = true;
  });
  return {
    write(line: string) {
      if (!gone) out.write(line);
    },
  };
}

/** A logger that drops everything, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
