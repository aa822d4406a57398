import { formatErr } from '../shared/errors.js';
import { NO_REPLY, type LineHandler, type Session } from './line-server.js';
import type { WorkerPool } from './worker-pool.js';
import { parseWorkerLine } from './worker-protocol.js';

/**
 * Turns a client connection into a worker of `type`: the pool sends it jobs through
 * `session.push`, its lines go to the pool, and its end (close, crash, QUIT) gives its jobs
 * back. Accepted DONE, FAIL and PROGRESS lines get no reply; a bad line gets one ERR line.
 */
export function becomeWorker(
  pool: WorkerPool,
  session: Session,
  type: string,
  concurrency: number,
): void {
  const worker = pool.attach(type, concurrency, { send: (line) => session.push(line) });
  const role: LineHandler = (line) => {
    if (line.trim() === '') return { text: formatErr('BAD_REQUEST', 'empty line') };
    const parsed = parseWorkerLine(line);
    if ('code' in parsed) return { text: formatErr(parsed.code, parsed.message) };
    if (parsed.verb === 'PING') return { text: 'OK PONG' };
    if (parsed.verb === 'QUIT') return { text: 'OK bye', close: true };
    const refused = pool.report(worker, parsed);
    return refused ? { text: formatErr(refused.code, refused.message) } : NO_REPLY;
  };
  session.role = role;
  if (session.signal.aborted) pool.detach(worker);
  else session.signal.addEventListener('abort', () => pool.detach(worker), { once: true });
}
