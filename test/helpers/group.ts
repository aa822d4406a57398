import { etcdBinary, startEtcd } from '../../bench/etcd.js';
import { freePorts } from '../../bench/ports.js';
import { Proc, tempDir, until } from './cluster.js';

export { explainOnFailure } from './cluster.js';

type Teardown = (fn: () => unknown) => void;

/** The etcd binary, or undefined: then a group test is skipped with this message. */
export const etcd = etcdBinary();
export const NO_ETCD = 'etcd is not installed (apt-get install -y etcd-server)';

export interface GroupProxy {
  proc: Proc;
  port: number;
  url: string;
  dataDir: string;
}

/** What a proxy's /readyz says of its place in the group. */
export interface Readiness {
  ready: boolean;
  role?: 'leader' | 'follower';
  leader?: string | null;
  epoch?: number;
}

export async function readiness(port: number, host = '127.0.0.1'): Promise<Readiness | undefined> {
  try {
    const res = await fetch(`http://${host}:${port}/readyz`, {
      signal: AbortSignal.timeout(1000),
    });
    return (await res.json()) as Readiness;
  } catch {
    return undefined;
  }
}

/** Starts an etcd and `n` proxies of one group on free ports (each its own DATA_DIR). */
export async function startGroup(
  teardown: Teardown,
  n: number,
  env: Record<string, string> = {},
  /** Data directories of the first proxies (a fresh one for each other). */
  given: string[] = [],
): Promise<{ endpoint: string; proxies: GroupProxy[]; start(i: number): Promise<GroupProxy> }> {
  const server = await startEtcd(etcd as string);
  teardown(() => server.stop());
  const ports = await freePorts(n);
  const dirs = ports.map((_, i) => given[i] ?? tempDir(teardown, 'petrel-gp-'));
  const start = async (i: number): Promise<GroupProxy> => {
    const port = ports[i] as number;
    const url = `ws://127.0.0.1:${port}/cluster`;
    const proc = Proc.start(
      'proxy',
      {
        PROXY_HOST: '127.0.0.1',
        PROXY_PORT: String(port),
        DATA_DIR: dirs[i] as string,
        ETCD_ENDPOINTS: server.endpoint,
        // the default: a shorter lease lapses on a loaded machine's event-loop stalls
        ETCD_LEASE_TTL: '2',
        PROXY_ADVERTISE_URL: url,
        NODE_TIMEOUT: '1500',
        ...env,
      },
      teardown,
    );
    await proc.waitFor('proxy listening', 60_000);
    return { proc, port, url, dataDir: dirs[i] as string };
  };
  const proxies: GroupProxy[] = [];
  for (let i = 0; i < n; i++) proxies.push(await start(i));
  return { endpoint: server.endpoint, proxies, start };
}

/** Waits until exactly one of `proxies` leads with `nodes` nodes joined; returns it. */
export async function leaderOf(
  proxies: GroupProxy[],
  nodes: number,
  ms = 60_000,
): Promise<GroupProxy> {
  return until(
    async () => {
      const states = await Promise.all(
        proxies.map(async (p) => (p.proc.child.exitCode === null ? readiness(p.port) : undefined)),
      );
      const leaders = proxies.filter((_, i) => states[i]?.role === 'leader');
      if (leaders.length !== 1) return undefined;
      const l = leaders[0] as GroupProxy;
      const s = states[proxies.indexOf(l)];
      return s?.ready && (await joined(l.port)) === nodes ? l : undefined;
    },
    ms,
    `one leader with ${nodes} nodes`,
  );
}

/** How many nodes a proxy has joined now. */
export async function joined(port: number, host = '127.0.0.1'): Promise<number> {
  const res = await fetch(`http://${host}:${port}/api/cluster`, {
    signal: AbortSignal.timeout(1000),
  });
  const body = (await res.json()) as { nodes: Array<{ connected: boolean }> };
  return body.nodes.filter((n) => n.connected).length;
}

/** Starts `n` nodes listing every proxy of a group (`urls`), ids g<first>, g<first+1>, ... */
export async function startGroupNodes(
  teardown: Teardown,
  urls: string,
  n: number,
  first = 1,
  env: Record<string, string> = {},
): Promise<Array<{ proc: Proc; port: number }>> {
  const nodes: Array<{ proc: Proc; port: number }> = [];
  for (let i = 0; i < n; i++) {
    const proc = Proc.start(
      'node',
      {
        CLIENT_HOST: '127.0.0.1',
        CLIENT_PORT: '0',
        PROXY_URL: urls,
        DATA_DIR: tempDir(teardown),
        NODE_ID: `g${first + i}`,
        SLOTS: '2',
        INFO_PERIOD: '50',
        LOCAL_FALLBACK: '0',
        ...env,
      },
      teardown,
    );
    const line = await proc.waitFor('listening for clients', 60_000);
    nodes.push({ proc, port: (JSON.parse(line) as { port: number }).port });
  }
  return nodes;
}

/** The cluster as a proxy's /api/cluster shows it (the parts group tests read). */
export async function clusterOf(
  port: number,
  host = '127.0.0.1',
): Promise<{ types?: string[]; nodes: Array<{ id: string; workers: Record<string, number> }> }> {
  const res = await fetch(`http://${host}:${port}/api/cluster`, {
    signal: AbortSignal.timeout(1000),
  });
  return (await res.json()) as {
    types?: string[];
    nodes: Array<{ id: string; workers: Record<string, number> }>;
  };
}
