import { spawn, type ChildProcess } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdBinary, startEtcd, type EtcdServer } from '../etcd.js';
import { freePorts } from '../ports.js';
import type { RunContext } from './context.js';
import { WORKER_COMMAND, WORKER_TYPE } from './job-kinds.js';
import { getCluster } from './monitor.js';

/**
 * The real proxy (or a group's three) and nodes of a chaos run, and the system mix's workers:
 * started, watched, restarted when they die.
 */

/** The `bench` folder this file sits in (under `chaos/`). */
const bench = dirname(dirname(fileURLToPath(import.meta.url)));
/** `dist/`, whether the bench runs compiled (`dist/bench`) or from source (`bench`, under tap). */
const DIST = basename(dirname(bench)) === 'dist' ? dirname(bench) : join(dirname(bench), 'dist');

/** A child process with every line it logged (JSON lines), for the report and post-mortems. */
export class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  killedByUs = false;
  exit: string | null = null;
  private partial = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      const parts = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      for (const l of parts) if (l !== '') this.lines.push(l);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = signal ?? `code ${code}`;
        resolve();
      });
      child.once('error', (err) => {
        this.lines.push(`spawn error: ${err.message}`);
        this.exit ??= 'spawn error';
        resolve();
      });
    });
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** Whether some line from `from` on contains `text`. */
  logged(text: string, from = 0): boolean {
    for (let i = from; i < this.lines.length; i++) if (this.lines[i]?.includes(text)) return true;
    return false;
  }

  /** kill -9; resolves once the process is gone. */
  kill(): Promise<void> {
    this.killedByUs = true;
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }
}

/** The proxy and the nodes, on ports chosen once and kept over every restart. */
export class Cluster {
  readonly procs: Proc[] = [];
  /** The proxy's port; with `group`, the leader's (see `findLeader`). */
  proxyPort = 0;
  clientPorts: number[] = [];
  /** The proxy's process; with `group`, the leader's. */
  proxy: Proc | undefined;
  /** Every proxy's port and process: one, or the three of a group. */
  proxyPorts: number[] = [];
  readonly proxies: Array<Proc | undefined> = [];
  private etcd: EtcdServer | undefined;
  readonly nodes: Array<Proc | undefined>;
  readonly up: boolean[];
  closing = false;

  constructor(
    private readonly ctx: RunContext,
    private readonly root: string,
  ) {
    this.nodes = Array.from({ length: ctx.o.nodes }, () => undefined);
    this.up = Array.from({ length: ctx.o.nodes }, () => false);
  }

  private spawn(
    name: string,
    program: 'proxy' | 'node' | 'cli',
    env: Record<string, string>,
    args: string[] = [],
  ): Proc {
    const child = spawn(process.execPath, [join(DIST, program, 'main.js'), ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        LOG_LEVEL: 'info',
        DURABILITY: this.ctx.o.durability,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new Proc(
      `${name}.${this.procs.filter((q) => q.name.startsWith(`${name}.`)).length + 1}`,
      child,
    );
    this.procs.push(p);
    void p.exited.then(() => this.onExit(p, name));
    return p;
  }

  /** A process that died without being killed is a bug: recorded, and restarted. */
  private onExit(p: Proc, name: string): void {
    if (p.killedByUs || this.closing) return;
    const tail = p.lines.slice(-3).join(' | ');
    this.ctx.problem(`${p.name} exited by itself (${p.exit}): ${tail}`);
    const k = this.proxies.indexOf(p);
    if (k >= 0) {
      const again = this.spawnProxy(k);
      if (this.proxy === p) this.proxy = again; // a group's next leader is found by findLeader
    }
    if (name.startsWith('worker-')) return; // reported above; the other workers serve on
    const i = this.nodes.indexOf(p);
    if (i >= 0) {
      this.up[i] = false;
      void this.startNode(i).catch((err: unknown) =>
        this.ctx.problem(`restart of node ${i + 1}: ${String(err)}`),
      );
    }
  }

  /** Starts (or restarts) proxy `i` on its own port and DATA_DIR. */
  spawnProxy(i = 0): Proc {
    const port = this.proxyPorts[i] as number;
    const name = this.etcd ? `proxy-${i + 1}` : 'proxy';
    const p = this.spawn(name, 'proxy', {
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: String(port),
      DATA_DIR: join(this.root, name),
      NODE_TIMEOUT: String(this.ctx.o.nodeTimeoutMs),
      REQUEST_RESULT_PERIOD: String(this.ctx.o.requestResultPeriodMs),
      ...(this.etcd
        ? { ETCD_ENDPOINTS: this.etcd.endpoint, PROXY_ADVERTISE_URL: proxyUrl(port) }
        : {}),
    });
    this.proxies[i] = p;
    return p;
  }

  /**
   * The group's leader once it has every node joined: `proxy` and `proxyPort` then point at
   * it. False when none has within `ms`.
   */
  async findLeader(ms: number): Promise<boolean> {
    return this.ctx.poll(async () => {
      for (const [i, port] of this.proxyPorts.entries()) {
        const api = await getCluster(port).catch(() => undefined);
        if (api?.group?.role !== 'leader') continue;
        if (api.nodes.filter((n) => n.connected).length < this.ctx.o.nodes) return false;
        this.proxyPort = port;
        this.proxy = this.proxies[i];
        return true;
      }
      return false;
    }, ms);
  }

  async stopEtcd(): Promise<void> {
    await this.etcd?.stop();
  }

  /** Starts (or restarts) node `i` on its own port and DATA_DIR; resolves once it joined. */
  async startNode(i: number): Promise<Proc> {
    const p = this.spawn(this.ctx.nodeId(i), 'node', {
      NODE_ID: this.ctx.nodeId(i),
      DATA_DIR: join(this.root, this.ctx.nodeId(i)),
      PROXY_URL: this.proxyPorts.map(proxyUrl).join(','),
      CLIENT_HOST: '127.0.0.1',
      CLIENT_PORT: String(this.clientPorts[i]),
      SLOTS: String(this.ctx.o.slots),
      INFO_PERIOD: '100',
      // the system mix's retried job runs sh
      ...(this.ctx.o.mix === 'system' ? { EXEC_ALLOW: 'sh' } : {}),
    });
    this.nodes[i] = p;
    const joined = await this.ctx.poll(() => !p.alive || p.logged('joined the proxy'), 30_000);
    if (!joined || !p.alive)
      throw new Error(`${p.name} did not join the proxy: ${p.exit ?? 'timed out'}`);
    this.up[i] = true;
    return p;
  }

  async startCluster(): Promise<void> {
    const proxies = this.ctx.o.group ? 3 : 1;
    const ports = await freePorts(proxies + this.ctx.o.nodes);
    this.proxyPorts = ports.slice(0, proxies);
    this.clientPorts = ports.slice(proxies);
    this.proxyPort = this.proxyPorts[0] as number;
    if (this.ctx.o.group) {
      const bin = etcdBinary();
      if (!bin) throw new Error('etcd is not installed (apt-get install -y etcd-server)');
      this.etcd = await startEtcd(bin);
    }
    for (let i = 0; i < proxies; i++) {
      const p = this.spawnProxy(i);
      if (!(await this.ctx.poll(() => p.logged('proxy listening'), 30_000))) {
        throw new Error(`the proxy did not start: ${p.lines.slice(-5).join(' | ')}`);
      }
    }
    this.proxy = this.proxies[0];
    for (let i = 0; i < this.ctx.o.nodes; i++) await this.startNode(i);
    if (this.etcd && !(await this.findLeader(30_000))) {
      throw new Error('no proxy of the group led with every node joined within 30 s');
    }
    const all = await this.ctx.poll(
      async () => (await this.connected()) === this.ctx.o.nodes,
      30_000,
    );
    if (!all) throw new Error('the nodes did not all join the proxy');
  }

  /**
   * The system mix's workers (`petrel worker`): one per node, each given every node with its
   * own first, so it serves on another while its node is down. Resolves once each serves.
   */
  async startWorkers(): Promise<void> {
    const ports = this.clientPorts;
    const workers = ports.map((_, i) => {
      const addrs = [...ports.slice(i), ...ports.slice(0, i)].map((p) => `127.0.0.1:${p}`);
      const args = ['worker', WORKER_TYPE, '-c', '2', '--addr', addrs.join(','), '--'];
      return this.spawn(`worker-${i + 1}`, 'cli', {}, [...args, ...WORKER_COMMAND]);
    });
    for (const w of workers) {
      if (
        !(await this.ctx.poll(() => !w.alive || w.logged(`serving ${WORKER_TYPE}`), 30_000)) ||
        !w.alive
      ) {
        throw new Error(`${w.name} did not start serving: ${w.lines.slice(-3).join(' | ')}`);
      }
    }
  }

  async connected(): Promise<number> {
    const api = await getCluster(this.proxyPort);
    return api.nodes.filter((n) => n.connected).length;
  }
}

const proxyUrl = (port: number): string => `ws://127.0.0.1:${port}/cluster`;
