import { freePorts } from './ports.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onCleanup } from './cleanup.js';
import { getCluster } from './http-json.js';
import { LineClient } from './line-client.js';
import { spawnNode, stopChild, type Child } from './processes.js';

/**
 * A local Petrel cluster for one scenario: a proxy and `nodes` nodes, built programs from
 * `dist/`, fresh data directories, ports found free on 127.0.0.1, all stopped afterwards.
 */

const distDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PROXY_MAIN = join(distDir, 'proxy', 'main.js');
export const NODE_MAIN = join(distDir, 'node', 'main.js');

/**
 * The Node options the build of `proxyMain` launches its proxy with (its
 * `shared/node-flags.js`), so that an older build runs as it shipped: none before that file.
 */
export async function proxyFlagsOf(proxyMain: string): Promise<readonly string[]> {
  const file = join(dirname(proxyMain), '..', 'shared', 'node-flags.js');
  if (!existsSync(file)) return [];
  const mod = (await import(pathToFileURL(file).href)) as { PROXY_NODE_FLAGS?: readonly string[] };
  return mod.PROXY_NODE_FLAGS ?? [];
}

/** Variables of the contract: never inherited from the caller's environment. */
const CONTRACT_VARS = [
  'DATA_DIR',
  'DURABILITY',
  'CLUSTER_SECRET',
  'LOG_LEVEL',
  'PROXY_HOST',
  'PROXY_PORT',
  'DISPATCH_PERIOD',
  'MAX_NUM_JOBS_DISPATCH',
  'REQUEST_RESULT_PERIOD',
  'MAX_NUM_NODES',
  'NODE_TIMEOUT',
  'POLICY',
  'PREFETCH',
  'RESULT_TTL',
  'NODE_ID',
  'PROXY_URL',
  'CLIENT_HOST',
  'CLIENT_PORT',
  'HTTP_PORT',
  'SLOTS',
  'INFO_PERIOD',
  'LOCAL_FALLBACK',
  'EXEC_ALLOW',
  'CLIENT_TOKEN',
  'JOB_OUTPUT_LIMIT',
  'MAX_CLIENTS',
  'TLS_CERT',
  'TLS_KEY',
  'NODE_OPTIONS',
];

export type Durability = 'fsync' | 'relaxed';

export interface ClusterOptions {
  readonly label: string;
  readonly nodes: number;
  /** SLOTS of every node; 0 leaves it unset (the node's default: its CPU count). */
  readonly slots: number;
  readonly durability: Durability;
  /** Extra proxy variables (seed mode, RESULT_TTL, MAX_NUM_NODES...). */
  readonly proxyEnv?: Readonly<Record<string, string>>;
  readonly nodeEnv?: Readonly<Record<string, string>>;
  /** When set, every process runs with `--cpu-prof` writing here. */
  readonly profileDir?: string;
  readonly startTimeoutMs?: number;
  /** Another build's proxy program (a baseline to compare with). */
  readonly proxyMain?: string;
  /** Another build's node program. */
  readonly nodeMain?: string;
  /** Gives every node an HTTP_PORT (for its `/metrics`). */
  readonly nodeHttp?: boolean;
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !CONTRACT_VARS.includes(k)) env[k] = v;
  }
  return env;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Cluster {
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly options: ClusterOptions,
    readonly root: string,
    readonly proxy: Child,
    readonly proxyPort: number,
    readonly nodes: readonly Child[],
    readonly clientPorts: readonly number[],
    readonly dataDirs: { readonly proxy: string; readonly nodes: readonly string[] },
    private readonly unregister: () => void,
    /** Each node's HTTP_PORT, when `nodeHttp` was asked for. */
    readonly httpPorts: readonly number[],
  ) {}

  /** Starts the processes and waits until every node is connected and answers PING. */
  static async start(opts: ClusterOptions): Promise<Cluster> {
    const root = mkdtempSync(join(tmpdir(), `petrel-bench-${opts.label}-`));
    const removeRoot = (): void => rmSync(root, { recursive: true, force: true });
    const unregisterRoot = onCleanup(removeRoot);
    const ports = await freePorts(1 + opts.nodes * (opts.nodeHttp ? 2 : 1));
    const [proxyPort, ...rest] = ports;
    if (proxyPort === undefined) throw new Error('no free port');
    const clientPorts = rest.slice(0, opts.nodes);
    const httpPorts = rest.slice(opts.nodes);
    const nodeArgs = (name: string): string[] =>
      opts.profileDir === undefined
        ? []
        : [
            '--cpu-prof',
            `--cpu-prof-dir=${opts.profileDir}`,
            `--cpu-prof-name=${opts.label}-${name}.cpuprofile`,
          ];
    const common = { DURABILITY: opts.durability, LOG_LEVEL: 'warn' };
    const proxyDir = join(root, 'proxy');
    const proxyMain = opts.proxyMain ?? PROXY_MAIN;
    const children: Child[] = [];
    try {
      const proxyFlags = await proxyFlagsOf(proxyMain);
      const proxy = spawnNode(
        'proxy',
        [...nodeArgs('proxy'), ...proxyFlags, proxyMain],
        {
          ...baseEnv(),
          ...common,
          DATA_DIR: proxyDir,
          PROXY_HOST: '127.0.0.1',
          PROXY_PORT: String(proxyPort),
          ...opts.proxyEnv,
        },
        root,
      );
      children.push(proxy);
      const nodeDirs: string[] = [];
      const nodes: Child[] = [];
      for (let i = 0; i < opts.nodes; i++) {
        const id = `bench-${i + 1}`;
        const dir = join(root, id);
        nodeDirs.push(dir);
        const node = spawnNode(
          id,
          [...nodeArgs(id), opts.nodeMain ?? NODE_MAIN],
          {
            ...baseEnv(),
            ...common,
            DATA_DIR: dir,
            NODE_ID: id,
            PROXY_URL: `ws://127.0.0.1:${proxyPort}/cluster`,
            CLIENT_HOST: '127.0.0.1',
            CLIENT_PORT: String(clientPorts[i]),
            ...(opts.slots > 0 ? { SLOTS: String(opts.slots) } : {}),
            MAX_CLIENTS: '8192',
            ...(opts.nodeHttp ? { HTTP_PORT: String(httpPorts[i]) } : {}),
            ...opts.nodeEnv,
          },
          root,
        );
        nodes.push(node);
        children.push(node);
      }
      const cluster = new Cluster(
        opts,
        root,
        proxy,
        proxyPort,
        nodes,
        clientPorts,
        { proxy: proxyDir, nodes: nodeDirs },
        unregisterRoot,
        httpPorts,
      );
      await cluster.waitReady(opts.startTimeoutMs ?? 20_000);
      return cluster;
    } catch (err) {
      await Promise.all(children.map((c) => stopChild(c, 1000)));
      unregisterRoot();
      removeRoot();
      throw err;
    }
  }

  /** pids by name, for CPU and memory sampling. */
  pids(): Record<string, number> {
    const out: Record<string, number> = { proxy: this.proxy.pid };
    for (const n of this.nodes) out[n.name] = n.pid;
    return out;
  }

  /** Throws, with the output tail, if any process of the cluster has exited. */
  assertAlive(): void {
    for (const c of [this.proxy, ...this.nodes]) {
      if (c.hasExited()) {
        throw new Error(
          `${this.options.label}: ${c.name} exited unexpectedly; its last output:\n${c.tail()}`,
        );
      }
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      this.assertAlive();
      if (performance.now() > deadline) {
        throw new Error(`${this.options.label}: cluster not ready after ${timeoutMs} ms (${last})`);
      }
      try {
        const c = await getCluster(this.proxyPort, 1000);
        const connected = c.nodes.filter((n) => n.connected).length;
        last = `${connected}/${this.nodes.length} nodes connected`;
        if (connected >= this.nodes.length) break;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(50);
    }
    for (const port of this.clientPorts) {
      for (;;) {
        this.assertAlive();
        if (performance.now() > deadline) {
          throw new Error(`node on port ${port} never answered PING (${last})`);
        }
        try {
          const c = await LineClient.connect(port, 1000);
          const reply = await c.request('PING');
          c.close();
          if (reply === 'OK PONG') break;
          last = `PING got ${reply}`;
        } catch (err) {
          last = (err as Error).message;
        }
        await sleep(50);
      }
    }
  }

  /** Stops every process (SIGTERM, then SIGKILL) and removes the data. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.nodes.map((n) => stopChild(n)));
      await stopChild(this.proxy);
      this.unregister();
      rmSync(this.root, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

/**
 * A proxy on its own (the scale scenario brings its own fake nodes); ready when
 * `/api/cluster` answers.
 */
export async function startProxyOnly(
  opts: Omit<ClusterOptions, 'nodes' | 'slots'>,
): Promise<Cluster> {
  return Cluster.start({ ...opts, nodes: 0, slots: 1 });
}
