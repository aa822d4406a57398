import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../cleanup.js';
import { Clients } from './clients.js';
import { RunContext, sleep } from './context.js';
import { Faults } from './faults.js';
import { getCluster } from './monitor.js';
import type { Resolved } from './options.js';
import { Cluster } from './processes.js';
import { spread, type ChaosReport } from './report.js';

/** One chaos run from start to report: the cluster, the chaos and the clients, then cleanup. */
export class ChaosRun {
  private readonly root: string;
  private readonly ctx: RunContext;
  private readonly clients: Clients;
  private readonly cluster: Cluster;
  private readonly faults: Faults;
  private readonly unregister: () => void;

  constructor(private readonly o: Resolved) {
    this.root = mkdtempSync(join(tmpdir(), 'petrel-chaos-'));
    this.ctx = new RunContext(o);
    this.cluster = new Cluster(this.ctx, this.root);
    this.clients = new Clients(this.ctx, this.cluster);
    this.faults = new Faults(this.ctx, this.cluster);
    // last resort (Ctrl-C, uncaught error in the CLI): no child outlives the run
    this.unregister = onCleanup(() => {
      for (const p of this.cluster.procs) if (p.alive) p.child.kill('SIGKILL');
    });
  }

  async execute(): Promise<ChaosReport> {
    this.ctx.say(
      `cluster: ${this.o.group ? 'a group of 3 proxies' : 'proxy'} + ${this.o.nodes} nodes, DURABILITY=${this.o.durability}, data in ${this.root}`,
    );
    await this.cluster.startCluster();
    if (this.o.mix === 'system') await this.cluster.startWorkers();
    const progress = setInterval(() => {
      this.ctx.say(
        `submitted ${this.ctx.tickets.length}/${this.o.jobs}, node kills ${this.ctx.nodeKills}, proxy kills ${this.ctx.proxyKills}`,
      );
    }, 5000);
    progress.unref();
    try {
      const chaos = this.faults.chaosLoop();
      // the chaos loop is awaited below; its rejection must not go unhandled meanwhile
      chaos.catch((err: unknown) => {
        this.ctx.fatal = err instanceof Error ? err : new Error(String(err));
      });
      await this.clients.submitAll();
      this.ctx.say(
        `all ${this.o.jobs} submitted in ${this.ctx.submitMs} ms; waiting for the queue to drain`,
      );
      await chaos;
    } finally {
      this.ctx.submitDone = true;
      clearInterval(progress);
    }
    this.ctx.say(
      `chaos over (${this.ctx.nodeKills} node kills, ${this.ctx.proxyKills} proxy kills); checking every ticket`,
    );
    await this.clients.verify();
    const totals = (await getCluster(this.cluster.proxyPort).catch(() => undefined))?.totals ?? {};
    // orphan tickets only add to the proxy's count: fewer means counted events were forgotten
    // (a group's members each count in their own file)
    if (!this.o.group && (totals.done ?? 0) < this.ctx.counts.done) {
      this.ctx.problem(
        `the proxy counts ${totals.done ?? 0} jobs done but ${this.ctx.counts.done} tickets are done: its counters lost increments`,
      );
    }
    const runMs = Math.max(1, (this.ctx.lastTerminalAt || Date.now()) - this.ctx.t0);
    return this.report(totals, this.ctx.submitMs, runMs);
  }

  private report(totals: Record<string, number>, submitMs: number, runMs: number): ChaosReport {
    const failed = this.ctx.counts.lost + this.ctx.counts.inconsistent + this.ctx.counts.wrong > 0;
    const keep =
      this.o.keep === 'always' ||
      (this.o.keep === 'on-failure' && (failed || this.ctx.problems.length > 0));
    const { progress: _progress, signal: _signal, ...options } = this.o;
    return {
      options,
      jobs: this.o.jobs,
      tickets: this.ctx.tickets.length,
      resubmits: this.ctx.resubmits,
      done: this.ctx.counts.done,
      lost: this.ctx.counts.lost + this.o.jobs - this.ctx.tickets.length - this.ctx.refused,
      refused: this.ctx.refused,
      inconsistent: this.ctx.counts.inconsistent,
      wrong: this.ctx.counts.wrong,
      ended: { ...this.ctx.ended },
      wrongByKind: { ...this.ctx.wrong },
      examples: [...this.ctx.examples],
      totals,
      nodeKills: this.ctx.nodeKills,
      proxyKills: this.ctx.proxyKills,
      nodeRecovery: spread(this.ctx.recovery.node),
      nodeRejoin: spread(this.ctx.recovery.rejoin),
      nodeDetect: spread(this.ctx.recovery.detect),
      proxyRecovery: spread(this.ctx.recovery.proxy),
      proxyRestart: spread(this.ctx.recovery.proxyStart),
      latency: { ...spread(this.ctx.recovery.latency), slowest: this.ctx.slowest?.text ?? null },
      submitMs,
      runMs,
      throughput: Math.round((this.ctx.tickets.length * 1000) / runMs),
      problems: [...this.ctx.problems],
      keptDir: keep ? this.root : null,
    };
  }

  /** Kills every process; keeps the directory (with every process's log) when asked. */
  async close(keep: boolean): Promise<void> {
    this.cluster.closing = true;
    await Promise.all(
      this.cluster.procs.map((p) => Promise.race([p.kill(), sleep(5000)]).catch(() => undefined)),
    );
    await this.cluster.stopEtcd();
    try {
      if (keep) {
        mkdirSync(join(this.root, 'logs'), { recursive: true });
        for (const p of this.cluster.procs)
          writeFileSync(join(this.root, 'logs', `${p.name}.log`), p.lines.join('\n') + '\n');
        writeFileSync(join(this.root, 'logs', 'events.log'), this.ctx.events.join('\n') + '\n');
      } else {
        rmSync(this.root, { recursive: true, force: true });
      }
    } finally {
      this.unregister();
    }
  }

  get dir(): string {
    return this.root;
  }
}
