import { spawn, type ChildProcess } from 'node:child_process';
import type http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { freePorts } from '../../bench/ports.js';
import { loadNodeConfig, loadProxyConfig } from '../../shared/config.js';
import { silentLogger } from '../../shared/log.js';
import { createNodeHttp } from '../../node/http.js';
import { PetrelNode } from '../../node/node.js';
import { PetrelProxy } from '../../proxy/proxy.js';

type Teardown = (fn: () => unknown) => void;

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A fresh temporary directory, removed at teardown. */
export function tempDir(teardown: Teardown, prefix = 'petrel-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Polls `check` until it returns a truthy value, or fails after `ms`. */
export async function until<T>(
  check: () => T | Promise<T>,
  ms = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = undefined; // the failure to report is the latest attempt's, not an earlier one's
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts an in-process proxy on port 0. */
export async function startProxy(
  teardown: Teardown,
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<PetrelProxy> {
  const cfg = loadProxyConfig({
    PROXY_HOST: '127.0.0.1',
    PROXY_PORT: '0',
    DATA_DIR: dataDir ?? tempDir(teardown),
    DURABILITY: 'relaxed',
    ...env,
  });
  const proxy = new PetrelProxy(cfg, silentLogger());
  teardown(() => proxy.close());
  await proxy.start();
  return proxy;
}

/** Starts an in-process node on port 0, joined to `proxyPort`. */
export async function startNode(
  teardown: Teardown,
  proxyPort: number,
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<PetrelNode> {
  const cfg = loadNodeConfig({
    CLIENT_HOST: '127.0.0.1',
    CLIENT_PORT: '0',
    PROXY_URL: `ws://127.0.0.1:${proxyPort}/cluster`,
    DATA_DIR: dataDir ?? tempDir(teardown),
    DURABILITY: 'relaxed',
    SLOTS: '2',
    INFO_PERIOD: '50',
    ...env,
  });
  const node = new PetrelNode(cfg, silentLogger());
  teardown(() => node.close(true));
  await node.start();
  return node;
}

/** A proxy and `n` nodes, all joined. */
export async function startCluster(
  teardown: Teardown,
  n: number,
  opts: { proxyEnv?: Record<string, string>; nodeEnv?: Record<string, string> } = {},
): Promise<{ proxy: PetrelProxy; nodes: PetrelNode[] }> {
  const proxy = await startProxy(teardown, opts.proxyEnv);
  const nodes: PetrelNode[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(await startNode(teardown, proxy.port, { NODE_ID: `n${i + 1}`, ...opts.nodeEnv }));
  }
  await until(() => proxy.scheduler.connectedNodes().length === n, 10_000, 'nodes to join');
  return { proxy, nodes };
}

/** A line-protocol client: send lines, read reply lines in order. */
export class LineClient {
  private readonly lines: string[] = [];
  private readonly wanted: Array<(line: string | null) => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    createInterface({ input: socket, crlfDelay: Infinity }).on('line', (l) => {
      const w = this.wanted.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.wanted.splice(0)) w(null);
    });
    socket.on('error', () => {});
  }

  static connect(port: number, teardown?: Teardown, host = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new LineClient(s)));
      s.once('error', reject);
      teardown?.(() => s.destroy());
    });
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The next reply line, or null when the connection closed. */
  next(ms = 10_000): Promise<string | null> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
      this.wanted.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  }

  /** Sends one line and returns the first reply line. */
  async ask(line: string, ms?: number): Promise<string> {
    this.write(line + '\n');
    const r = await this.next(ms);
    if (r === null) throw new Error(`connection closed after ${JSON.stringify(line)}`);
    return r;
  }

  close(): void {
    this.socket.end();
  }
}

/** A real process (`dist/proxy/main.js` or `dist/node/main.js`), with its log collected. */
export class Proc {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    for (const s of [child.stdout, child.stderr]) {
      if (s) createInterface({ input: s }).on('line', (l) => this.output.push(l));
    }
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  static start(
    which: 'proxy' | 'node',
    env: Record<string, string>,
    teardown: Teardown,
    args: string[] = [],
  ): Proc {
    const child = spawn(process.execPath, [join(root, 'dist', which, 'main.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', DURABILITY: 'relaxed', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new Proc(child);
    teardown(() => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    });
    return p;
  }

  /**
   * Waits for a log line containing `text`; returns it. The default deadline is for a process
   * starting: on a loaded CI machine a start has taken more than 10 s.
   */
  waitFor(text: string, ms = 30_000): Promise<string> {
    return until(() => this.output.find((l) => l.includes(text)), ms, `log line "${text}"`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}

/** A free TCP port on loopback (for real processes, which must be told their port). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}

/** The `port` field of the first JSON log line whose message contains `text`. */
export async function loggedPort(p: Proc, text: string): Promise<number> {
  const line = await p.waitFor(text);
  const port = (JSON.parse(line) as { port?: number }).port;
  if (!port) throw new Error(`no port in ${line}`);
  return port;
}

/**
 * A real proxy or node process on `dataDir`, on loopback ports chosen by the system (a node
 * with `PROXY_URL` where nothing listens), not waited for: for a start that must fail.
 */
export function startOnDataDir(which: 'proxy' | 'node', dataDir: string, teardown: Teardown): Proc {
  const env = {
    DATA_DIR: dataDir,
    PROXY_PORT: '0',
    CLIENT_PORT: '0',
    CLIENT_HOST: '127.0.0.1',
    PROXY_HOST: '127.0.0.1',
    PROXY_URL: 'ws://127.0.0.1:1/cluster',
  };
  return Proc.start(which, env, teardown);
}

/** A real proxy process on a free port, with its data in `dataDir`. */
export async function spawnProxy(
  teardown: Teardown,
  dataDir: string,
  env: Record<string, string> = {},
  port = 0,
): Promise<{ proc: Proc; port: number }> {
  const proc = Proc.start(
    'proxy',
    { PROXY_HOST: '127.0.0.1', PROXY_PORT: String(port), DATA_DIR: dataDir, ...env },
    teardown,
  );
  return { proc, port: await loggedPort(proc, 'proxy listening') };
}

/** A real node process joined to `proxyPort`; resolves once it joined. */
export async function spawnNode(
  teardown: Teardown,
  proxyPort: number,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ proc: Proc; port: number }> {
  const proc = Proc.start(
    'node',
    {
      CLIENT_HOST: '127.0.0.1',
      CLIENT_PORT: '0',
      PROXY_URL: `ws://127.0.0.1:${proxyPort}/cluster`,
      DATA_DIR: dataDir,
      SLOTS: '2',
      INFO_PERIOD: '50',
      ...env,
    },
    teardown,
  );
  const port = await loggedPort(proc, 'listening for clients');
  await proc.waitFor('joined the proxy');
  return { proc, port };
}

/**
 * When the test fails, prints what the processes warned of (elections, lapses, takeovers, firings),
 * so a failure on a loaded CI machine explains itself.
 */
export function explainOnFailure(
  t: { teardown: Teardown; passing(): boolean; comment(...args: unknown[]): void },
  procs: () => Array<{ name: string; proc: Proc }>,
): void {
  t.teardown(() => {
    if (t.passing()) return;
    for (const { name, proc } of procs()) {
      const lines = proc.output.filter((l) =>
        /"level":(40|50|60)|leading|joined|schedule fired/.test(l),
      );
      t.comment(`${name}:\n${lines.slice(-40).join('\n')}`);
    }
  });
}

/** A node's HTTP server (its API) on an ephemeral loopback port; its base URL. */
export async function serveNodeHttp(teardown: Teardown, node: PetrelNode): Promise<string> {
  const server: http.Server = createNodeHttp(node);
  teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}
