import { WireError } from '../shared/errors.js';
import type { JobView } from '../shared/job-view.js';
import type { FrameIn, FrameOf } from '../shared/protocol.js';

interface Pending {
  resolve: (views: JobView[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface PendingLog {
  resolve: (f: FrameOf<'LOG_DATA'>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A log read as a node asks it of the proxy (its `reqId` is the link's own). */
export type LogReadRequest = Omit<FrameOf<'LOG_READ'>, 'type' | 'reqId'>;

/**
 * The link's requests to the proxy, each under its own `reqId`: answered by the frame that
 * names it, refused when it is not answered in time or the connection is lost.
 */
export class LinkRequests {
  private nextReqId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly logReads = new Map<number, PendingLog>();

  constructor(
    /** Sends one frame now, if joined; whether it was sent. */
    private readonly send: (frame: FrameIn) => boolean,
    /** Sends what this tick queued now. */
    private readonly flush: () => void,
  ) {}

  ask(frameOf: (reqId: number) => FrameIn, timeoutMs: number): Promise<JobView[]> {
    return new Promise((resolve, reject) => {
      const reqId = this.nextReqId++;
      this.flush(); // frames queued before this request must reach the proxy first
      if (!this.send(frameOf(reqId))) {
        reject(new WireError('UNAVAILABLE', 'the proxy is not reachable right now, try again'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new WireError('UNAVAILABLE', 'the proxy did not answer in time, try again'));
      }, timeoutMs);
      this.pending.set(reqId, { resolve, reject, timer });
    });
  }

  /** Asks the proxy for output of a run on another node (LOG_READ, answered by LOG_DATA). */
  readLog(req: LogReadRequest): Promise<FrameOf<'LOG_DATA'>> {
    return new Promise((resolve, reject) => {
      const reqId = this.nextReqId++;
      if (!this.send({ type: 'LOG_READ', reqId, ...req })) {
        reject(new WireError('UNAVAILABLE', 'the proxy is not reachable right now'));
        return;
      }
      const timer = setTimeout(() => {
        this.logReads.delete(reqId);
        reject(new WireError('UNAVAILABLE', `node ${req.node} did not answer in time`));
      }, req.waitMs + 5000);
      this.logReads.set(reqId, { resolve, reject, timer });
    });
  }

  /** The proxy's answer to the request `reqId`. */
  answered(reqId: number, frame: FrameOf<'RES_REQ'>): void {
    const p = this.pending.get(reqId);
    if (p) {
      this.pending.delete(reqId);
      clearTimeout(p.timer);
      if (frame.error) p.reject(new WireError(frame.error.code, frame.error.message));
      else p.resolve(frame.views);
    }
  }

  logData(frame: FrameOf<'LOG_DATA'>): void {
    const p = this.logReads.get(frame.reqId);
    if (!p) return;
    this.logReads.delete(frame.reqId);
    clearTimeout(p.timer);
    p.resolve(frame);
  }

  /** The connection was lost: every request waiting for an answer is refused. */
  lost(): void {
    for (const waiting of [this.pending, this.logReads]) {
      for (const [id, p] of waiting) {
        clearTimeout(p.timer);
        p.reject(new WireError('UNAVAILABLE', 'lost the connection to the proxy, try again'));
        waiting.delete(id);
      }
    }
  }
}
