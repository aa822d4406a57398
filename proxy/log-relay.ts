import type { FrameIn, FrameOf } from '../shared/protocol.js';

/** How a relayed log read reaches a node. */
export interface LogPeer {
  send(frame: FrameIn): void;
}

/** Longer than any LOG_READ may wait, so an answer that comes is never thrown away. */
const RELAY_TIMEOUT_MS = 45_000;

interface Relayed {
  asker: string;
  askerReqId: number;
  target: string;
  timer: NodeJS.Timeout;
}

/**
 * Carries log reads between nodes: a node asking for the output of a run executed elsewhere
 * sends LOG_READ naming that node; the proxy passes it on under an id of its own and passes
 * the LOG_DATA answer back. Output never touches the proxy's disk or queue.
 */
export class LogRelay {
  private nextId = 1;
  private readonly relayed = new Map<number, Relayed>();

  constructor(private readonly peer: (nodeId: string) => LogPeer | undefined) {}

  read(from: string, f: FrameOf<'LOG_READ'>): void {
    const target = this.peer(f.node);
    if (!target) {
      this.peer(from)?.send({
        type: 'LOG_DATA',
        reqId: f.reqId,
        status: 'unavailable',
        offset: f.offset,
        data: '',
        size: 0,
        live: false,
      });
      return;
    }
    const reqId = this.nextId++;
    const timer = setTimeout(() => this.relayed.delete(reqId), RELAY_TIMEOUT_MS);
    timer.unref();
    this.relayed.set(reqId, { asker: from, askerReqId: f.reqId, target: f.node, timer });
    target.send({ ...f, reqId });
  }

  data(from: string, f: FrameOf<'LOG_DATA'>): void {
    const r = this.relayed.get(f.reqId);
    // only the node asked may answer
    if (!r || r.target !== from) return;
    this.relayed.delete(f.reqId);
    clearTimeout(r.timer);
    this.peer(r.asker)?.send({ ...f, reqId: r.askerReqId });
  }

  /** Drops every relay in flight (the proxy is stopping). */
  close(): void {
    for (const r of this.relayed.values()) clearTimeout(r.timer);
    this.relayed.clear();
  }
}
