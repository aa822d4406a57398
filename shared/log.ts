import { pino, type Logger } from 'pino';

export type { Logger };

/** A structured JSON logger on stdout; `name` says which process a line came from. */
export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { name }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
