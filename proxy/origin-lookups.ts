import type { JobView } from '../shared/job-view.js';

/**
 * What a lookup found. `complete`: every node asked answered, so a ticket none of them knows
 * is unknown to the cluster; otherwise an origin may simply not have answered yet.
 */
export type LookupDone = (views: JobView[], complete: boolean) => void;

interface Pending {
  views: JobView[];
  waiting: Set<string>;
  done: LookupDone;
  timer: NodeJS.Timeout;
}

/**
 * Tickets a proxy does not know, asked of the nodes: a proxy that took over a group never saw
 * the results delivered under an earlier leader, but each ticket's origin node keeps its
 * result. The question goes to every joined node (a ticket does not say which node issued
 * it); only the origin answers with a view. The lookup ends when every node answered, or
 * after `timeoutMs` or when a node asked left, with what came, said to be incomplete.
 */
export class OriginLookups {
  private next = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly timeoutMs: number) {}

  /**
   * Starts a lookup of `ids` among `nodes`; `send(node, reqId)` asks one of them. `done` gets
   * the views found (none if nobody knew), exactly once.
   */
  ask(nodes: string[], send: (node: string, reqId: number) => void, done: LookupDone): void {
    if (nodes.length === 0) return done([], true);
    const reqId = this.next++;
    const timer = setTimeout(() => this.finish(reqId), this.timeoutMs);
    timer.unref();
    this.pending.set(reqId, { views: [], waiting: new Set(nodes), done, timer });
    for (const node of nodes) send(node, reqId);
  }

  /** `node` answered lookup `reqId` with the views of the tickets it issued. */
  answered(node: string, reqId: number, views: JobView[]): void {
    const p = this.pending.get(reqId);
    if (!p || !p.waiting.delete(node)) return;
    p.views.push(...views);
    if (p.waiting.size === 0) this.finish(reqId);
  }

  /** A node left: it will not answer, and the lookup cannot be complete. */
  gone(node: string): void {
    for (const [reqId, p] of this.pending) if (p.waiting.has(node)) this.finish(reqId);
  }

  private finish(reqId: number): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    this.pending.delete(reqId);
    clearTimeout(p.timer);
    p.done(p.views, p.waiting.size === 0);
  }
}
