import { NoAnswerError } from './dial.js';
import { idlePingMs } from './worker-liveness.js';

/**
 * What a failed probe says of the connection it was made for. Only silence (nothing accepted
 * the connection, or nothing answered its `PING`, in time) means the node froze; a refusal
 * (the port closed, a wrong token, `BUSY`, a connection reset) comes from something alive, and
 * if the node itself went away the followed connection's own close says so. Bytes on the
 * followed connection since the probe began say the node is alive, whatever the probe found.
 */
export function probeVerdict(err: unknown, heardSinceProbe: boolean): 'lost' | 'alive' {
  return err instanceof NoAnswerError && !heardSinceProbe ? 'lost' : 'alive';
}

/**
 * The liveness of a connection while a followed job (`TAIL`) leads it. No reply deadline can
 * cover it: a job may print nothing for hours and the node sends nothing meanwhile, so a
 * frozen node (SIGSTOP, a stuck event loop: its kernel still ACKs, so TCP keepalive never
 * fires) would hold the follower for ever. A `PING` pipelined behind the `TAIL` cannot be
 * answered before the job ends (replies come in order), so when the connection has been quiet
 * for idlePingMs, `probe` asks the same address on a second, short-lived connection; `onLost`
 * is called when that found the node silent. One timer and one probe at most, the
 * timer re-armed lazily (a busy stream sets none per chunk). A timeout of 0: no probing.
 */
export class StreamLiveness {
  private heardAt = Date.now();
  /** The last byte, or the end of the last probe that did not find the node silent. */
  private quietSince = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /** The probe out, if any: stop() aborts it, and its result then speaks for nothing. */
  private probing: AbortController | undefined;
  private readonly idleMs: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly streamLeads: () => boolean,
    private readonly probe: (signal: AbortSignal) => Promise<void>,
    private readonly onLost: () => void,
  ) {
    this.idleMs = idlePingMs(timeoutMs);
  }

  /** Bytes arrived on the followed connection: the node is alive, whatever they say. */
  heard(now = Date.now()): void {
    this.heardAt = now;
    this.quietSince = now;
  }

  /** The head of the connection may have changed: makes sure a check is due if a stream leads. */
  arm(): void {
    if (this.timeoutMs <= 0 || this.timer !== undefined || this.probing) return;
    if (this.streamLeads()) this.schedule(Math.max(0, this.quietSince + this.idleMs - Date.now()));
  }

  /** The stream ended or the connection closed: no check, and a probe out is disregarded. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.probing?.abort();
    this.probing = undefined;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.check(), ms);
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    if (!this.streamLeads()) return; // re-armed when a stream leads again
    const now = Date.now();
    const quiet = now - this.quietSince;
    if (quiet < this.idleMs) return this.schedule(this.idleMs - quiet);
    const probing = (this.probing = new AbortController());
    const done = (err?: unknown) => {
      if (this.probing !== probing) return;
      this.probing = undefined;
      if (err !== undefined && probeVerdict(err, this.heardAt >= now) === 'lost') {
        return this.onLost();
      }
      this.quietSince = Math.max(this.quietSince, Date.now());
      this.arm();
    };
    this.probe(probing.signal).then(() => done(), done);
  }
}
