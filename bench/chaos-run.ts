import { seededRandom } from './workload.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TICKET_RE } from '../shared/ids.js';
import { onCleanup } from './cleanup.js';
import { CLOSED_REPLY, LineClient } from './line-client.js';

/**
 * The chaos run: a real proxy and real nodes (`dist/*\/main.js`), jobs submitted through
 * several client connections, while nodes are `kill -9`'d and restarted at once (same
 * DATA_DIR, NODE_ID and client port) and the proxy is killed and restarted once (same port
 * and DATA_DIR). At the end every ticket ever returned must have exactly one terminal result,
 * `done`, and two nodes must give the same JSON for it.
 */

const here = dirname(fileURLToPath(import.meta.url));
/** `dist/`, whether this file runs compiled (`dist/bench`) or from source (`bench`, under tap). */
const DIST = basename(dirname(here)) === 'dist' ? dirname(here) : join(dirname(here), 'dist');

export type Durability = 'fsync' | 'relaxed';

export interface ChaosOptions {
  /** Jobs to submit; each is retried until a ticket comes back. */
  readonly jobs: number;
  readonly durability?: Durability;
  /** Mean time between two kills (each is this ±25 %). */
  readonly killEveryMs?: number;
  /** Submissions per second over all connections; 0: as fast as the nodes answer. */
  readonly rate?: number;
  readonly nodes?: number;
  readonly slots?: number;
  readonly connectionsPerNode?: number;
  /** Submissions in flight per connection. */
  readonly window?: number;
  /** Sleep jobs wait 0..maxSleepMs. */
  readonly maxSleepMs?: number;
  readonly nodeTimeoutMs?: number;
  readonly requestResultPeriodMs?: number;
  /** Kill the proxy once, mid-run: when the proxy has finished half of the jobs. */
  readonly killProxy?: boolean;
  readonly seed?: number;
  /** Bound on the whole run. */
  readonly deadlineMs?: number;
  /** After the chaos stops, how long tickets may take to become terminal. */
  readonly settleMs?: number;
  /** Keep the data directories and process logs: never, when something went wrong, always. */
  readonly keep?: 'never' | 'on-failure' | 'always';
  readonly progress?: (line: string) => void;
  readonly signal?: AbortSignal;
}

type Resolved = Required<Omit<ChaosOptions, 'progress' | 'signal'>> &
  Pick<ChaosOptions, 'progress' | 'signal'>;

/** Median and maximum of some durations. */
export interface Spread {
  readonly count: number;
  readonly medianMs: number | null;
  readonly maxMs: number | null;
}

export interface ChaosReport {
  readonly options: Omit<Resolved, 'progress' | 'signal'>;
  readonly jobs: number;
  /** Tickets returned to the clients (one per job). */
  readonly tickets: number;
  /** Submissions sent again because their node died (or its link did) before replying. */
  readonly resubmits: number;
  readonly done: number;
  /** Tickets without exactly one `done` result: unfinished, failed, cancelled or unknown. */
  readonly lost: number;
  /** Tickets whose result JSON differs between their origin node and another node. */
  readonly inconsistent: number;
  /** `done` echo jobs whose output is not their text. */
  readonly wrongOutput: number;
  /** A few of the tickets above, with what was wrong. */
  readonly examples: string[];
  /** The proxy's `/api/cluster` totals at the end. */
  readonly totals: Record<string, number>;
  readonly nodeKills: number;
  readonly proxyKills: number;
  /** Node kill until the proxy released its jobs (disconnected, nothing outstanding) or it rejoined. */
  readonly nodeRecovery: Spread;
  /** Node kill until the proxy logged "node left" for it (by the proxy's own clock). */
  readonly nodeDetect: Spread;
  /** Node kill until the restarted node is connected to the proxy again. */
  readonly nodeRejoin: Spread;
  /** Proxy kill until the restarted proxy shows every node connected. */
  readonly proxyRecovery: Spread;
  /** Proxy kill until the restarted proxy listens (the rest of its recovery is the nodes' reconnect). */
  readonly proxyRestart: Spread;
  /** Per ticket: submitted until finished, as its result says. */
  readonly latency: Spread & { readonly slowest: string | null };
  readonly submitMs: number;
  /** First submission until the last ticket finished (its result's finishedAt). */
  readonly runMs: number;
  /** Jobs per second over `runMs`. */
  readonly throughput: number;
  /** Things that must not happen whatever the load: unexpected exits, hangs, refusals. */
  readonly problems: string[];
  /** The kept directory (data and `logs/`), or null when it was removed. */
  readonly keptDir: string | null;
}

const DEFAULTS: Omit<Resolved, 'jobs' | 'progress' | 'signal'> = {
  durability: 'fsync',
  killEveryMs: 1000,
  rate: 0,
  nodes: 3,
  slots: 4,
  connectionsPerNode: 2,
  window: 16,
  maxSleepMs: 50,
  nodeTimeoutMs: 500,
  requestResultPeriodMs: 300,
  killProxy: true,
  seed: 1,
  deadlineMs: 30 * 60_000,
  settleMs: 60_000,
  keep: 'on-failure',
};

const MAX_EXAMPLES = 10;
const POLL_MS = 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- small tools ----------------------------------------------------------------------------

function spread(values: number[]): Spread {
  if (values.length === 0) return { count: 0, medianMs: null, maxMs: null };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median =
    s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { count: s.length, medianMs: median, maxMs: s[s.length - 1] as number };
}

/** Ports free now, all held open together so they are distinct. */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.listen(0, '127.0.0.1', () => res());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

interface ApiCluster {
  nodes: Array<{ id: string; connected: boolean; outstanding: number }>;
  queue: { queued: number; assigned: number; running: number };
  totals: Record<string, number>;
}

/** The proxy's `/api/cluster`, on a fresh connection (the proxy is killed now and then). */
function getCluster(port: number, timeoutMs = 2000): Promise<ApiCluster> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/api/cluster', agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ApiCluster);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('GET /api/cluster timed out')));
    req.on('error', reject);
  });
}

/** A child process with every line it logged (JSON lines), for the report and post-mortems. */
class Proc {
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

/** When the proxy logged that `node` left (its log's own clock), from line `from` on. */
function leftAt(proxy: Proc, from: number, node: string): number | undefined {
  for (let i = from; i < proxy.lines.length; i++) {
    const l = proxy.lines[i] ?? '';
    if (!l.includes('"node left"') || !l.includes(`"node":"${node}"`)) continue;
    try {
      const t = (JSON.parse(l) as { time?: unknown }).time;
      const ms = typeof t === 'number' ? t : Date.parse(String(t));
      if (Number.isFinite(ms)) return ms;
    } catch {
      // not JSON: ignore the line
    }
  }
  return undefined;
}

/** A client connection bound to one node; reconnects (polling) after the node restarted. */
class Conn {
  private client: LineClient | undefined;
  private connecting: Promise<LineClient> | undefined;
  private closed = false;
  timeouts = 0;

  constructor(
    readonly node: number,
    private readonly port: number,
    private readonly live: () => void,
  ) {}

  /** One request and its reply; CLOSED_REPLY when the connection died or the reply timed out. */
  async request(line: string, timeoutMs: number): Promise<string> {
    const c = await this.get();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((r) => {
      timer = setTimeout(() => r('TIMED_OUT'), timeoutMs);
    });
    const reply = await Promise.race([c.request(line), late]);
    clearTimeout(timer);
    if (reply !== 'TIMED_OUT') return reply;
    this.timeouts++;
    c.close(); // the other requests pipelined on it get CLOSED_REPLY and are retried
    return CLOSED_REPLY;
  }

  close(): void {
    this.closed = true;
    this.client?.close();
  }

  private get(): Promise<LineClient> {
    if (this.client && !this.client.isClosed) return Promise.resolve(this.client);
    this.connecting ??= this.reconnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async reconnect(): Promise<LineClient> {
    for (;;) {
      this.live(); // throws past the deadline or once aborted
      if (this.closed) throw new Error('connection closed');
      try {
        this.client = await LineClient.connect(this.port, 2000);
        return this.client;
      } catch {
        await sleep(25);
      }
    }
  }
}

interface Job {
  readonly line: string;
  /** The expected output of an echo job. */
  readonly echo: string | null;
}

interface Ticket {
  readonly id: string;
  readonly job: number;
  readonly origin: number;
}

// ---- the run --------------------------------------------------------------------------------

class ChaosRun {
  private readonly root: string;
  private readonly started = Date.now();
  private readonly rand: () => number;
  private readonly jobs: Job[];
  private readonly tickets: Ticket[] = [];
  private readonly procs: Proc[] = [];
  private readonly problems: string[] = [];
  private readonly examples: string[] = [];
  private readonly recovery = {
    node: [] as number[],
    rejoin: [] as number[],
    proxy: [] as number[],
    proxyStart: [] as number[],
    detect: [] as number[],
    latency: [] as number[],
  };
  private slowest: { ms: number; text: string } | undefined;
  /** What the chaos did and when, written to `logs/events.log` when the directory is kept. */
  private readonly events: string[] = [];
  private readonly unregister: () => void;
  private proxyPort = 0;
  private clientPorts: number[] = [];
  private proxy: Proc | undefined;
  private readonly nodes: Array<Proc | undefined>;
  private readonly up: boolean[];
  private nextJob = 0;
  private resubmits = 0;
  private submitDone = false;
  private nodeKills = 0;
  private proxyKills = 0;
  private closing = false;
  /** Set when the chaos loop failed: every other loop stops too. */
  private fatal: Error | undefined;
  private lastTerminalAt = 0;
  /** When the first submission went out, and how long submitting took. */
  private t0 = 0;
  private submitMs = 0;
  private counts = { done: 0, lost: 0, inconsistent: 0, wrongOutput: 0 };

  constructor(private readonly o: Resolved) {
    this.root = mkdtempSync(join(tmpdir(), 'petrel-chaos-'));
    this.rand = seededRandom(o.seed);
    this.jobs = Array.from({ length: o.jobs }, (_, i) => this.makeJob(i));
    this.nodes = Array.from({ length: o.nodes }, () => undefined);
    this.up = Array.from({ length: o.nodes }, () => false);
    // last resort (Ctrl-C, uncaught error in the CLI): no child outlives the run
    this.unregister = onCleanup(() => {
      for (const p of this.procs) if (p.alive) p.child.kill('SIGKILL');
    });
  }

  private makeJob(i: number): Job {
    if (this.rand() < 0.5) {
      const ms = Math.floor(this.rand() * (this.o.maxSleepMs + 1));
      return { line: `SUBMIT {"type":"sleep","args":["${ms}"],"maxAttempts":10}`, echo: null };
    }
    const text = `chaos ${i}`;
    return { line: `SUBMIT {"type":"echo","args":["${text}"],"maxAttempts":10}`, echo: text };
  }

  /** Throws once the run is past its deadline or aborted: every loop calls it. */
  private readonly live = (): void => {
    if (this.fatal) throw this.fatal;
    if (this.o.signal?.aborted) throw new Error('chaos run aborted');
    if (Date.now() - this.started > this.o.deadlineMs) {
      throw new Error(`chaos run exceeded its deadline of ${this.o.deadlineMs} ms`);
    }
  };

  /** Polls `check` every POLL_MS until it is truthy (returns true) or `ms` pass (false). */
  private async poll(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      this.live();
      if (await Promise.resolve(check()).catch(() => false)) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  private event(text: string): void {
    this.events.push(`${new Date().toISOString()} ${text}`);
  }

  private say(line: string): void {
    this.event(line);
    this.o.progress?.(line);
  }

  private problem(text: string): void {
    if (this.problems.length < 50) this.problems.push(text);
  }

  // ---- processes ----------------------------------------------------------------------------

  private spawn(name: string, program: 'proxy' | 'node', env: Record<string, string>): Proc {
    const child = spawn(process.execPath, [join(DIST, program, 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        LOG_LEVEL: 'info',
        DURABILITY: this.o.durability,
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
    this.problem(`${p.name} exited by itself (${p.exit}): ${tail}`);
    if (name === 'proxy' && this.proxy === p) this.proxy = this.spawnProxy();
    const i = this.nodes.indexOf(p);
    if (i >= 0) {
      this.up[i] = false;
      void this.startNode(i).catch((err: unknown) =>
        this.problem(`restart of node ${i + 1}: ${String(err)}`),
      );
    }
  }

  private spawnProxy(): Proc {
    return this.spawn('proxy', 'proxy', {
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: String(this.proxyPort),
      DATA_DIR: join(this.root, 'proxy'),
      NODE_TIMEOUT: String(this.o.nodeTimeoutMs),
      REQUEST_RESULT_PERIOD: String(this.o.requestResultPeriodMs),
    });
  }

  private nodeId(i: number): string {
    return `chaos-${i + 1}`;
  }

  /** Starts (or restarts) node `i` on its own port and DATA_DIR; resolves once it joined. */
  private async startNode(i: number): Promise<Proc> {
    const p = this.spawn(this.nodeId(i), 'node', {
      NODE_ID: this.nodeId(i),
      DATA_DIR: join(this.root, this.nodeId(i)),
      PROXY_URL: `ws://127.0.0.1:${this.proxyPort}/cluster`,
      CLIENT_HOST: '127.0.0.1',
      CLIENT_PORT: String(this.clientPorts[i]),
      SLOTS: String(this.o.slots),
      INFO_PERIOD: '100',
    });
    this.nodes[i] = p;
    const joined = await this.poll(() => !p.alive || p.logged('joined the proxy'), 30_000);
    if (!joined || !p.alive)
      throw new Error(`${p.name} did not join the proxy: ${p.exit ?? 'timed out'}`);
    this.up[i] = true;
    return p;
  }

  private async startCluster(): Promise<void> {
    [this.proxyPort = 0, ...this.clientPorts] = await freePorts(1 + this.o.nodes);
    this.proxy = this.spawnProxy();
    const p = this.proxy;
    if (!(await this.poll(() => p.logged('proxy listening'), 30_000))) {
      throw new Error(`the proxy did not start: ${p.lines.slice(-5).join(' | ')}`);
    }
    for (let i = 0; i < this.o.nodes; i++) await this.startNode(i);
    const all = await this.poll(async () => (await this.connected()) === this.o.nodes, 30_000);
    if (!all) throw new Error('the nodes did not all join the proxy');
  }

  private async connected(): Promise<number> {
    const api = await getCluster(this.proxyPort);
    return api.nodes.filter((n) => n.connected).length;
  }

  // ---- chaos --------------------------------------------------------------------------------

  private nextGap(): number {
    return this.o.killEveryMs * (0.75 + this.rand() * 0.5);
  }

  private async chaosLoop(): Promise<void> {
    const measuring: Promise<void>[] = [];
    let next = Date.now() + this.nextGap();
    let stopBy = Infinity;
    for (;;) {
      this.live();
      const proxyDue = this.o.killProxy && this.proxyKills === 0;
      if (this.submitDone && stopBy === Infinity) stopBy = Date.now() + this.o.settleMs;
      if (this.submitDone && !proxyDue && (await this.drained())) break;
      if (Date.now() > stopBy) {
        this.problem(
          `the proxy's queue did not drain within ${this.o.settleMs} ms of the last submission`,
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
      } else {
        const candidates = this.up.flatMap((u, i) => (u ? [i] : []));
        const i = candidates[Math.floor(this.rand() * candidates.length)];
        if (i !== undefined) measuring.push(this.killNode(i));
      }
      next = Date.now() + this.nextGap();
    }
    await Promise.all(measuring);
  }

  /** Half of the jobs done by the proxy's count, or nothing left to do at all. */
  private async halfway(): Promise<boolean> {
    const api = await getCluster(this.proxyPort).catch(() => undefined);
    if ((api?.totals.done ?? 0) >= this.o.jobs / 2) return true;
    return this.submitDone && (await this.drained());
  }

  /** Nothing left at the proxy and every node up: the chaos has nothing more to hit. */
  private async drained(): Promise<boolean> {
    if (!this.up.every(Boolean)) return false;
    const api = await getCluster(this.proxyPort).catch(() => undefined);
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
    const old = this.nodes[i];
    if (!old) return;
    this.up[i] = false;
    const id = this.nodeId(i);
    const logFrom = this.proxy?.lines.length ?? 0;
    const killedAt = Date.now();
    this.event(`kill -9 ${old.name} (pid ${old.child.pid})`);
    await old.kill();
    this.nodeKills++;
    const restart = this.startNode(i);
    const m = await this.measureNode(i, killedAt, logFrom);
    await restart.catch((err: unknown) => this.problem(`restart of ${id}: ${String(err)}`));
    if (m.rejoined === undefined) {
      this.problem(`${id} was not seen connected again within 30 s of its kill`);
      return;
    }
    this.recovery.node.push(m.released ?? m.rejoined);
    this.recovery.rejoin.push(m.rejoined);
    if (m.detected !== undefined) this.recovery.detect.push(m.detected);
  }

  /** Polls `/api/cluster` (and reads the proxy's log) after node `i` was killed. */
  private async measureNode(
    i: number,
    killedAt: number,
    logFrom: number,
  ): Promise<{ released?: number; rejoined?: number; detected?: number }> {
    const id = this.nodeId(i);
    const proxy = this.proxy;
    const m: { released?: number; rejoined?: number; detected?: number } = {};
    await this.poll(async () => {
      const joined = this.nodes[i]?.logged('joined the proxy') ?? false;
      const n = (await getCluster(this.proxyPort)).nodes.find((x) => x.id === id);
      const at = Date.now() - killedAt;
      if (n && !n.connected && n.outstanding === 0 && m.released === undefined) {
        m.released = at;
        this.event(`${id}: proxy released its jobs ${at} ms after the kill`);
      }
      if (n && n.connected && joined) {
        m.rejoined = at;
        this.event(`${id}: rejoined ${at} ms after the kill`);
      }
      return m.rejoined !== undefined;
    }, 30_000);
    const left = proxy ? leftAt(proxy, logFrom, id) : undefined;
    if (left !== undefined) m.detected = Math.max(0, left - killedAt);
    return m;
  }

  /** kill -9 of the proxy, restarted at once on the same port and DATA_DIR. */
  private async killProxy(): Promise<void> {
    if (!(await this.poll(() => this.up.every(Boolean), 30_000))) {
      this.problem('not every node was up before the proxy kill');
    }
    const before = await getCluster(this.proxyPort).catch(() => undefined);
    const killedAt = Date.now();
    await this.proxy?.kill();
    this.proxyKills++;
    const done = before?.totals.done ?? 0;
    this.say(`kill -9 proxy (${this.tickets.length} of ${this.o.jobs} submitted, ${done} done)`);
    let p = this.spawnProxy();
    for (let attempt = 1; ; attempt++) {
      const q = p;
      await this.poll(() => !q.alive || q.logged('proxy listening'), 30_000);
      if (q.alive) break;
      if (attempt >= 5)
        throw new Error(`the proxy did not restart: ${q.lines.slice(-3).join(' | ')}`);
      p = this.spawnProxy();
    }
    this.proxy = p;
    this.recovery.proxyStart.push(Date.now() - killedAt);
    this.event(`${p.name} listening ${Date.now() - killedAt} ms after the kill`);
    const ok = await this.poll(async () => (await this.connected()) === this.o.nodes, 30_000);
    if (!ok) {
      this.problem('the nodes were not all connected within 30 s of the proxy restart');
      return;
    }
    this.recovery.proxy.push(Date.now() - killedAt);
    this.event(`every node connected ${Date.now() - killedAt} ms after the proxy kill`);
    const after = await getCluster(this.proxyPort).catch(() => undefined);
    for (const [k, v] of Object.entries(before?.totals ?? {})) {
      const now = after?.totals[k] ?? 0;
      if (now < v)
        this.problem(`proxy counter ${k} went back from ${v} to ${now} over its restart`);
    }
  }

  // ---- submissions --------------------------------------------------------------------------

  private async submitAll(): Promise<void> {
    const conns: Conn[] = [];
    for (let i = 0; i < this.o.nodes; i++) {
      for (let k = 0; k < this.o.connectionsPerNode; k++) {
        conns.push(new Conn(i, this.clientPorts[i] as number, this.live));
      }
    }
    this.t0 = Date.now();
    try {
      await Promise.all(
        conns.flatMap((c) => Array.from({ length: this.o.window }, () => this.lane(c, this.t0))),
      );
    } finally {
      for (const c of conns) c.close();
      this.submitDone = true;
      this.submitMs = Date.now() - this.t0;
    }
    const timeouts = conns.reduce((s, c) => s + c.timeouts, 0);
    if (timeouts > 0) this.problem(`${timeouts} submissions got no reply within 20 s (retried)`);
  }

  /** Submits jobs one after another on `conn` until none are left; retries what went unanswered. */
  private async lane(conn: Conn, t0: number): Promise<void> {
    for (let index = this.nextJob++; index < this.o.jobs; index = this.nextJob++) {
      if (this.o.rate > 0) {
        const at = t0 + (index * 1000) / this.o.rate;
        while (Date.now() < at) {
          this.live();
          await sleep(Math.min(100, at - Date.now()));
        }
      }
      const job = this.jobs[index] as Job;
      for (;;) {
        this.live();
        const reply = await conn.request(job.line, 20_000);
        const ticket = reply.startsWith('OK ') ? reply.slice(3) : '';
        if (TICKET_RE.test(ticket)) {
          this.tickets.push({ id: ticket, job: index, origin: conn.node });
          break;
        }
        // a ticket never returned was never promised: ask again
        if (reply === CLOSED_REPLY || /^ERR (UNAVAILABLE|BUSY) /.test(reply)) {
          this.resubmits++;
          continue;
        }
        throw new Error(`SUBMIT refused: ${reply}`);
      }
    }
  }

  // ---- verification -------------------------------------------------------------------------

  /** Every ticket: WAIT at its origin until terminal, then RESULT from another node. */
  private async verify(): Promise<void> {
    const waitConns: Conn[] = [];
    const resultConns: Conn[] = [];
    const queues: Ticket[][] = Array.from({ length: this.o.nodes }, () => []);
    for (const t of this.tickets) queues[t.origin]?.push(t);
    for (let i = 0; i < this.o.nodes; i++) {
      for (let k = 0; k < this.o.connectionsPerNode; k++) {
        waitConns.push(new Conn(i, this.clientPorts[i] as number, this.live));
        const other = (i + 1) % this.o.nodes;
        resultConns.push(new Conn(other, this.clientPorts[other] as number, this.live));
      }
    }
    const until = Date.now() + this.o.settleMs;
    const lanes: Promise<void>[] = [];
    waitConns.forEach((wc, k) => {
      const rc = resultConns[k] as Conn;
      const q = queues[wc.node] as Ticket[];
      for (let l = 0; l < 32; l++) lanes.push(this.verifyLane(q, wc, rc, until));
    });
    try {
      await Promise.all(lanes);
    } finally {
      for (const c of [...waitConns, ...resultConns]) c.close();
    }
  }

  private async verifyLane(q: Ticket[], wc: Conn, rc: Conn, until: number): Promise<void> {
    for (let t = q.pop(); t; t = q.pop()) {
      const final = await this.waitTerminal(t, wc, until);
      if (final === null) continue;
      const view = JSON.parse(final) as {
        ticket?: string;
        state?: string;
        output?: string;
        error?: string;
        submittedAt?: string;
        finishedAt?: string;
      };
      this.timing(t, view.submittedAt, view.finishedAt, final);
      const job = this.jobs[t.job] as Job;
      if (view.ticket !== t.id || view.state !== 'done') {
        this.lose(t, `${view.state ?? '?'} ${view.error ?? ''}: ${final}`);
        continue;
      }
      this.counts.done++;
      if (job.echo !== null && view.output !== job.echo) {
        this.counts.wrongOutput++;
        this.example(
          `${t.id}: echo ${JSON.stringify(job.echo)} gave ${JSON.stringify(view.output)}`,
        );
      }
      const other = await this.ask(rc, `RESULT ${t.id}`, until);
      if (other !== `OK ${final}`) {
        this.counts.inconsistent++;
        this.example(
          `${t.id}: origin ${this.nodeId(t.origin)} says ${final}; ${this.nodeId(rc.node)} says ${other}`,
        );
      }
    }
  }

  /** The terminal result JSON from the origin, or null (counted lost) if there is none in time. */
  private async waitTerminal(t: Ticket, wc: Conn, until: number): Promise<string | null> {
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) {
        const last = await this.ask(wc, `RESULT ${t.id}`, Date.now() + 10_000);
        this.lose(t, `not terminal ${this.o.settleMs} ms after the chaos stopped: ${last}`);
        return null;
      }
      const reply = await this.ask(wc, `WAIT ${t.id} ${Math.min(5000, left)}`, until + 10_000);
      if (reply.startsWith('OK ')) return reply.slice(3);
      if (reply.startsWith('ERR TIMEOUT')) continue;
      this.lose(t, `WAIT at origin ${this.nodeId(t.origin)}: ${reply}`);
      return null;
    }
  }

  /** A request retried across reconnects until `until`. */
  private async ask(c: Conn, line: string, until: number): Promise<string> {
    for (;;) {
      const reply = await c.request(line, Math.max(1000, until - Date.now() + 1000));
      if (reply !== CLOSED_REPLY || Date.now() > until) return reply;
      await sleep(25);
    }
  }

  /** Records how long the ticket took, from its own result's times. */
  private timing(t: Ticket, submitted = '', finished = '', final: string): void {
    const end = Date.parse(finished);
    const took = end - Date.parse(submitted);
    if (!Number.isFinite(took)) return;
    this.lastTerminalAt = Math.max(this.lastTerminalAt, end);
    this.recovery.latency.push(took);
    if (!this.slowest || took > this.slowest.ms) {
      this.slowest = { ms: took, text: `${t.id} (origin ${this.nodeId(t.origin)}): ${final}` };
    }
  }

  private lose(t: Ticket, why: string): void {
    this.counts.lost++;
    this.example(`${t.id} (origin ${this.nodeId(t.origin)}): ${why}`);
  }

  private example(text: string): void {
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(text);
  }

  // ---- the whole run ------------------------------------------------------------------------

  async execute(): Promise<ChaosReport> {
    this.say(
      `cluster: proxy + ${this.o.nodes} nodes, DURABILITY=${this.o.durability}, data in ${this.root}`,
    );
    await this.startCluster();
    const progress = setInterval(() => {
      this.say(
        `submitted ${this.tickets.length}/${this.o.jobs}, node kills ${this.nodeKills}, proxy kills ${this.proxyKills}`,
      );
    }, 5000);
    progress.unref();
    try {
      const chaos = this.chaosLoop();
      // the chaos loop is awaited below; its rejection must not go unhandled meanwhile
      chaos.catch((err: unknown) => {
        this.fatal = err instanceof Error ? err : new Error(String(err));
      });
      await this.submitAll();
      this.say(
        `all ${this.o.jobs} submitted in ${this.submitMs} ms; waiting for the queue to drain`,
      );
      await chaos;
    } finally {
      this.submitDone = true;
      clearInterval(progress);
    }
    this.say(
      `chaos over (${this.nodeKills} node kills, ${this.proxyKills} proxy kills); checking every ticket`,
    );
    await this.verify();
    const totals = (await getCluster(this.proxyPort).catch(() => undefined))?.totals ?? {};
    // orphan tickets only add to the proxy's count: fewer means counted events were forgotten
    if ((totals.done ?? 0) < this.counts.done) {
      this.problem(
        `the proxy counts ${totals.done ?? 0} jobs done but ${this.counts.done} tickets are done: its counters lost increments`,
      );
    }
    const runMs = Math.max(1, (this.lastTerminalAt || Date.now()) - this.t0);
    return this.report(totals, this.submitMs, runMs);
  }

  private report(totals: Record<string, number>, submitMs: number, runMs: number): ChaosReport {
    const failed = this.counts.lost + this.counts.inconsistent + this.counts.wrongOutput > 0;
    const keep =
      this.o.keep === 'always' ||
      (this.o.keep === 'on-failure' && (failed || this.problems.length > 0));
    const { progress: _progress, signal: _signal, ...options } = this.o;
    return {
      options,
      jobs: this.o.jobs,
      tickets: this.tickets.length,
      resubmits: this.resubmits,
      done: this.counts.done,
      lost: this.counts.lost + this.o.jobs - this.tickets.length,
      inconsistent: this.counts.inconsistent,
      wrongOutput: this.counts.wrongOutput,
      examples: [...this.examples],
      totals,
      nodeKills: this.nodeKills,
      proxyKills: this.proxyKills,
      nodeRecovery: spread(this.recovery.node),
      nodeRejoin: spread(this.recovery.rejoin),
      nodeDetect: spread(this.recovery.detect),
      proxyRecovery: spread(this.recovery.proxy),
      proxyRestart: spread(this.recovery.proxyStart),
      latency: { ...spread(this.recovery.latency), slowest: this.slowest?.text ?? null },
      submitMs,
      runMs,
      throughput: Math.round((this.tickets.length * 1000) / runMs),
      problems: [...this.problems],
      keptDir: keep ? this.root : null,
    };
  }

  /** Kills every process; keeps the directory (with every process's log) when asked. */
  async close(keep: boolean): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.procs.map((p) => Promise.race([p.kill(), sleep(5000)]).catch(() => undefined)),
    );
    try {
      if (keep) {
        mkdirSync(join(this.root, 'logs'), { recursive: true });
        for (const p of this.procs)
          writeFileSync(join(this.root, 'logs', `${p.name}.log`), p.lines.join('\n') + '\n');
        writeFileSync(join(this.root, 'logs', 'events.log'), this.events.join('\n') + '\n');
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

/**
 * Runs the chaos scenario and reports what it found. Never throws for lost jobs (they are in
 * the report); throws when the run itself could not be carried out (cluster did not start,
 * deadline passed), after killing every process and keeping the logs.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const o: Resolved = { ...DEFAULTS, ...options };
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new Error('jobs must be a positive integer');
  const run = new ChaosRun(o);
  let report: ChaosReport | undefined;
  try {
    report = await run.execute();
    return report;
  } catch (err) {
    const where = o.keep === 'never' ? '' : ` (logs kept in ${run.dir}/logs)`;
    throw new Error(`${err instanceof Error ? err.message : String(err)}${where}`, { cause: err });
  } finally {
    await run.close(report ? report.keptDir !== null : o.keep !== 'never');
  }
}

const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v)} ms`);

/** The report as the lines `npm run chaos` prints (also used by the test's comments). */
export function formatReport(r: ChaosReport): string[] {
  const t = (k: string): number => r.totals[k] ?? 0;
  const lines = [
    `jobs ${r.jobs} (DURABILITY=${r.options.durability}, ${r.options.nodes} nodes x ${r.options.slots} slots, seed ${r.options.seed})`,
    `tickets returned ${r.tickets}; submissions retried after their node died ${r.resubmits}, of which ${Math.max(0, t('submitted') - r.tickets)} had been committed (orphan tickets: run, never promised)`,
    `lost ${r.lost} (tickets without exactly one "done" result); inconsistent between nodes ${r.inconsistent}; wrong output ${r.wrongOutput}`,
    `duplicate runs ${t('duplicates')}; requeued ${t('requeued')}; proxy submitted ${t('submitted')} done ${t('done')} failed ${t('failed')} LOST ${t('lost')}`,
    `kills: ${r.nodeKills} nodes (kill -9 every ~${r.options.killEveryMs} ms, restarted at once), ${r.proxyKills} proxy`,
    `node recovery (kill -> proxy released its jobs or it rejoined): median ${ms(r.nodeRecovery.medianMs)}, max ${ms(r.nodeRecovery.maxMs)} over ${r.nodeRecovery.count}`,
    `node loss seen (kill -> proxy logged "node left", its clock): median ${ms(r.nodeDetect.medianMs)}, max ${ms(r.nodeDetect.maxMs)} over ${r.nodeDetect.count}`,
    `node rejoin (kill -> restarted node connected again): median ${ms(r.nodeRejoin.medianMs)}, max ${ms(r.nodeRejoin.maxMs)}`,
    `proxy recovery (kill -> restarted proxy shows every node connected): median ${ms(r.proxyRecovery.medianMs)}, max ${ms(r.proxyRecovery.maxMs)} over ${r.proxyRecovery.count}`,
    `proxy restart (kill -> new proxy listening): ${ms(r.proxyRestart.maxMs)}; the rest is the nodes reconnecting`,
    `ticket latency (submitted -> finished, from its result): median ${ms(r.latency.medianMs)}, max ${ms(r.latency.maxMs)}`,
    `  slowest: ${r.latency.slowest ?? '-'}`,
    `throughput ${r.throughput} jobs/s (first submit -> last ticket finished: ${(r.runMs / 1000).toFixed(1)} s; submitting took ${(r.submitMs / 1000).toFixed(1)} s)`,
    `times are polled from /api/cluster every ${POLL_MS} ms, so they include up to one poll and one HTTP request`,
  ];
  for (const e of r.examples) lines.push(`  ticket: ${e}`);
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  if (r.keptDir) lines.push(`data and logs kept in ${r.keptDir}`);
  return lines;
}
