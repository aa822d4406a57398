import type { FrameIn, FrameOf } from '../shared/protocol.js';

/** How a relayed log read reaches a node. */
export interface LogPeer {
  send(frame: FrameIn): void;
}

/** Longer than any LOG_READ may wait, so an answer that comes is never thrown away. */
const RELAY_TIMEOUT_MS = 45_000;

type LogData = FrameOf<'LOG_DATA'>;

/** What a read of the proxy's own (the dashboard's) names: a run on a node, from an offset. */
export type LogAsk = Omit<FrameOf<'LOG_READ'>, 'type' | 'reqId'>;

interface Relayed {
  /** The node that asked, or the proxy's own reader. */
  asker: string | ((f: LogData) => void);
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
      this.peer(from)?.send(unavailable(f.reqId, f.offset));
      return;
    }
    const reqId = this.nextId++;
    const timer = setTimeout(() => this.relayed.delete(reqId), RELAY_TIMEOUT_MS);
    timer.unref();
    this.relayed.set(reqId, { asker: from, askerReqId: f.reqId, target: f.node, timer });
    target.send({ ...f, reqId });
  }

  /**
   * The proxy's own read of a run's output (the dashboard): the node's answer, or status
   * `unavailable` when the node is not connected, does not answer in time, or the proxy stops.
   */
  ask(req: LogAsk): Promise<LogData> {
    const away = () => unavailable(0, req.offset);
    const target = this.peer(req.node);
    if (!target) return Promise.resolve(away());
    return new Promise((resolve) => {
      const reqId = this.nextId++;
      const timer = setTimeout(() => {
        this.relayed.delete(reqId);
        resolve(away());
      }, RELAY_TIMEOUT_MS);
      timer.unref();
      this.relayed.set(reqId, { asker: resolve, askerReqId: 0, target: req.node, timer });
      target.send({ type: 'LOG_READ', reqId, ...req });
    });
  }

  data(from: string, f: FrameOf<'LOG_DATA'>): void {
    const r = this.relayed.get(f.reqId);
    // only the node asked may answer
    if (!r || r.target !== from) return;
    this.relayed.delete(f.reqId);
    clearTimeout(r.timer);
    this.answer(r, f);
  }

  /**
   * `node` left: the reads waiting for it are answered `unavailable` now, so a follower moves
   * on (to the job's next run, elsewhere) instead of waiting out its read.
   */
  gone(node: string): void {
    for (const [reqId, r] of this.relayed) {
      if (r.target !== node) continue;
      this.relayed.delete(reqId);
      clearTimeout(r.timer);
      this.answer(r, unavailable(r.askerReqId, 0));
    }
  }

  private answer(r: Relayed, f: LogData): void {
    if (typeof r.asker === 'function') r.asker(f);
    else this.peer(r.asker)?.send({ ...f, reqId: r.askerReqId });
  }

  /** Drops every relay in flight (the proxy is stopping); the proxy's own reads get `unavailable`. */
  close(): void {
    for (const r of this.relayed.values()) {
      clearTimeout(r.timer);
      if (typeof r.asker === 'function') {
        r.asker(unavailable(0, 0));
      }
    }
    this.relayed.clear();
  }
}

function unavailable(reqId: number, offset: number): LogData {
  return { type: 'LOG_DATA', reqId, status: 'unavailable', offset, data: '', size: 0, live: false };
}
