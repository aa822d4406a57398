import { sleep, type RunContext } from './context.js';
import { getCluster, measureNode } from './monitor.js';
import type { Cluster } from './processes.js';

/**
 * The chaos itself: a random node `kill -9`'d about every `killEveryMs` and restarted at once
 * while jobs are being submitted, the proxy once when half of the jobs are done; then the
 * queue must drain.
 */
export class Faults {
  constructor(
    private readonly ctx: RunContext,
    private readonly cluster: Cluster,
  ) {}

  private nextGap(): number {
    return this.ctx.o.killEveryMs * (0.75 + this.ctx.rand() * 0.5);
  }

  async chaosLoop(): Promise<void> {
    const measuring: Promise<void>[] = [];
    let next = Date.now() + this.nextGap();
    let stopBy = Infinity;
    for (;;) {
      this.ctx.live();
      const proxyDue = this.ctx.o.killProxy && this.ctx.proxyKills === 0;
      if (this.ctx.submitDone && stopBy === Infinity) stopBy = Date.now() + this.ctx.o.settleMs;
      if (this.ctx.submitDone && !proxyDue && (await this.drained())) break;
      if (Date.now() > stopBy) {
        this.ctx.problem(
          `the proxy's queue did not drain within ${this.ctx.o.settleMs} ms of the last submission`,
        );
        break;
      }
      if (Date.now() < next) {
        await sleep(Math.min(50, next - Date.now()));
        continue;
      }
      if (proxyDue && (await this.halfway())) {
        await Promise.all(measuring);
        await this.killProxy();
      } else if (!this.ctx.submitDone) {
        // once every job is in, kills stop: on a loaded machine a restart can take longer
        // than the gap between kills, and the cluster would never be whole to drain
        const candidates = this.cluster.up.flatMap((u, i) => (u ? [i] : []));
        const i = candidates[Math.floor(this.ctx.rand() * candidates.length)];
        if (i !== undefined) measuring.push(this.killNode(i));
      }
      next = Date.now() + this.nextGap();
    }
    await Promise.all(measuring);
  }

  /** Half of the jobs done by the proxy's count, or nothing left to do at all. */
  private async halfway(): Promise<boolean> {
    const api = await getCluster(this.cluster.proxyPort).catch(() => undefined);
    if ((api?.totals.done ?? 0) >= this.ctx.o.jobs / 2) return true;
    return this.ctx.submitDone && (await this.drained());
  }

  /** Nothing left at the proxy and every node up: the chaos has nothing more to hit. */
  private async drained(): Promise<boolean> {
    if (!this.cluster.up.every(Boolean)) return false;
    const api = await getCluster(this.cluster.proxyPort).catch(() => undefined);
    if (!api) return false;
    const q = api.queue;
    return q.queued + q.assigned + q.running === 0;
  }

  /**
   * kill -9 of node `i`, restarted at once. Recovery: from the kill until `/api/cluster` shows
   * the node disconnected with nothing outstanding (its unfinished jobs are back at the head of
   * the global queue, and go to the next free slot elsewhere), or the node already rejoined.
   */
  private async killNode(i: number): Promise<void> {
    const old = this.cluster.nodes[i];
    if (!old) return;
    this.cluster.up[i] = false;
    const id = this.ctx.nodeId(i);
    const logFrom = this.cluster.proxy?.lines.length ?? 0;
    const killedAt = Date.now();
    this.ctx.event(`kill -9 ${old.name} (pid ${old.child.pid})`);
    await old.kill();
    this.ctx.nodeKills++;
    // handled at once: a restart that fails while the kill is measured is a problem, not a crash
    const restart = this.cluster
      .startNode(i)
      .catch((err: unknown) => this.ctx.problem(`restart of ${id}: ${String(err)}`));
    const m = await measureNode(this.ctx, this.cluster, i, killedAt, logFrom);
    await restart;
    if (m.rejoined === undefined) {
      this.ctx.problem(`${id} was not seen connected again within 30 s of its kill`);
      return;
    }
    this.ctx.recovery.node.push(m.released ?? m.rejoined);
    this.ctx.recovery.rejoin.push(m.rejoined);
    if (m.detected !== undefined) this.ctx.recovery.detect.push(m.detected);
  }

  /**
   * kill -9 of the proxy (a group's leader), restarted at once on the same port and DATA_DIR
   * (a group's member comes back a follower, another having taken over).
   */
  private async killProxy(): Promise<void> {
    if (!(await this.ctx.poll(() => this.cluster.up.every(Boolean), 30_000))) {
      this.ctx.problem('not every node was up before the proxy kill');
    }
    const before = await getCluster(this.cluster.proxyPort).catch(() => undefined);
    const killedAt = Date.now();
    const member = Math.max(0, this.cluster.proxies.indexOf(this.cluster.proxy));
    await this.cluster.proxy?.kill();
    this.ctx.proxyKills++;
    const done = before?.totals.done ?? 0;
    this.ctx.say(
      `kill -9 proxy (${this.ctx.tickets.length} of ${this.ctx.o.jobs} submitted, ${done} done)`,
    );
    let p = this.cluster.spawnProxy(member);
    for (let attempt = 1; ; attempt++) {
      const q = p;
      await this.ctx.poll(() => !q.alive || q.logged('proxy listening'), 30_000);
      if (q.alive) break;
      if (attempt >= 5)
        throw new Error(`the proxy did not restart: ${q.lines.slice(-3).join(' | ')}`);
      p = this.cluster.spawnProxy(member);
    }
    this.cluster.proxy = p;
    this.ctx.recovery.proxyStart.push(Date.now() - killedAt);
    this.ctx.event(`${p.name} listening ${Date.now() - killedAt} ms after the kill`);
    const ok = this.ctx.o.group
      ? await this.cluster.findLeader(30_000)
      : await this.ctx.poll(
          async () => (await this.cluster.connected()) === this.ctx.o.nodes,
          30_000,
        );
    if (!ok) {
      this.ctx.problem('the nodes were not all connected within 30 s of the proxy restart');
      return;
    }
    this.ctx.recovery.proxy.push(Date.now() - killedAt);
    this.ctx.event(`every node connected ${Date.now() - killedAt} ms after the proxy kill`);
    if (this.ctx.o.group) return; // each member counts in its own file: another leads now
    const after = await getCluster(this.cluster.proxyPort).catch(() => undefined);
    for (const [k, v] of Object.entries(before?.totals ?? {})) {
      const now = after?.totals[k] ?? 0;
      if (now < v)
        this.ctx.problem(`proxy counter ${k} went back from ${v} to ${now} over its restart`);
    }
  }
}
