import { SEED_NUMBER_RE, seedResultArg } from './seed-dialect.js';

/** Verbs that read what earlier commands of the connection did. */
const READS = new Set(['STATUS', 'RESULT', 'WAIT', 'LIST', 'GETALL', 'LOGS', 'TAIL']);
/** Verbs that read what earlier commands did, then change something themselves. */
const CHANGES = new Set(['CANCEL', 'RETRY']);

/**
 * How a client line orders against its connection's other commands: a `write` is waited for
 * by the reads after it, a `read` waits for the writes before it, a `change` does both;
 * undefined for a line that neither reads nor writes jobs.
 */
export function orderOf(
  rawLine: string,
  isVerb: (word: string) => boolean,
): 'read' | 'write' | 'change' | undefined {
  const line = rawLine.trim();
  if (SEED_NUMBER_RE.test(line)) return 'write';
  const space = line.search(/\s/);
  const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  if (verb === 'SUBMIT') return 'write';
  if (READS.has(verb)) return 'read';
  if (CHANGES.has(verb)) return 'change';
  return seedResultArg(line, isVerb) === null ? undefined : 'read';
}

/**
 * The writes (SUBMIT, CANCEL, RETRY, the seed's `<ms>`) a connection still has in flight, so
 * that a read it pipelines after them (LIST, getall, STATUS, ...) answers as it would have had
 * the client waited for each reply: every command on one connection sees the effects of those
 * before it. Writes do not wait for one another, so pipelined SUBMITs still commit together.
 */
export class SessionWrites {
  private readonly pending = new WeakMap<object, Set<Promise<unknown>>>();

  /** Notes `write`, a command of `session`'s that changes something; returns it. */
  track<T>(session: object, write: Promise<T>): Promise<T> {
    let set = this.pending.get(session);
    if (!set) {
      set = new Set();
      this.pending.set(session, set);
    }
    const inFlight = set;
    inFlight.add(write);
    const drop = () => inFlight.delete(write);
    write.then(drop, drop);
    return write;
  }

  /**
   * Resolves once every write `session` sent so far has settled; null when none is in flight,
   * so a read that follows nothing pending runs at once.
   */
  settled(session: object): Promise<void> | null {
    const set = this.pending.get(session);
    if (!set || set.size === 0) return null;
    return Promise.allSettled([...set]).then(() => undefined);
  }
}
