import { formatErr, WireError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { KnownTypes } from './known-types.js';
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

/** How long `WORKER` waits for the proxy to confirm the type before answering anyway. */
const TYPE_CONFIRM_MS = 2000;

/** What `attachWorker` reads of its node, at the moment a client asks. */
export interface WorkerDeps {
  pool: WorkerPool;
  knownTypes: KnownTypes;
  linkReady: boolean;
  log: Logger;
  draining: boolean;
}

/** A client connection becomes a worker (`WORKER`); answered once the cluster knows its type. */
export async function attachWorker(
  d: WorkerDeps,
  type: string,
  concurrency: number,
  session: Session,
): Promise<void> {
  if (d.draining) throw new WireError('UNAVAILABLE', 'this node is shutting down');
  becomeWorker(d.pool, session, type, concurrency);
  d.log.info({ type, concurrency, session: session.id }, 'a worker attached');
  session.signal.addEventListener(
    'abort',
    () => d.log.info({ type, session: session.id }, 'a worker left'),
    { once: true },
  );
  // Until the proxy lists the type, other nodes refuse SUBMIT of it: the reply waits for
  // that (without a proxy, this node alone knows the type, and says so only by accepting it).
  if (d.linkReady) await d.knownTypes.waitFor(type, TYPE_CONFIRM_MS);
}
