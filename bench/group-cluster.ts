import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import type { EtcdServer } from './etcd.js';
import { freePorts } from './ports.js';
import { spawnNode, type Child } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** One proxy of a group: its process comes and goes, its port and data stay. */
export interface GroupMember {
  index: number;
  port: number;
  url: string;
  dataDir: string;
  child: Child;
}

export interface GroupNode {
  id: string;
  clientPort: number;
  child: Child;
}

/** What a proxy's /readyz and /api/cluster say of the group. */
export interface MemberState {
  role?: 'leader' | 'follower';
  epoch?: number;
  joined: number;
}

const base = (extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? '',
  LOG_LEVEL: 'warn',
  ...extra,
});

/** Starts (or restarts) proxy `i` of the group on its fixed port and data directory. */
export function startMember(
  m: Omit<GroupMember, 'child'>,
  etcd: EtcdServer,
  env: Record<string, string>,
): GroupMember {
  const child = spawnNode(
    `proxy-${m.index}`,
    [join(root, 'dist', 'proxy', 'main.js')],
    base({
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: String(m.port),
      DATA_DIR: m.dataDir,
      ETCD_ENDPOINTS: etcd.endpoint,
      PROXY_ADVERTISE_URL: m.url,
      ...env,
    }),
    root,
  );
  return { ...m, child };
}

/** `n` proxies of one group, each with its own data directory under `dir`. */
export async function startMembers(
  n: number,
  dir: string,
  etcd: EtcdServer,
  env: Record<string, string>,
): Promise<GroupMember[]> {
  onCleanup(() => etcd.child.kill('SIGKILL'));
  const ports = await freePorts(n);
  return ports.map((port, index) =>
    startMember(
      {
        index,
        port,
        url: `ws://127.0.0.1:${port}/cluster`,
        dataDir: join(dir, `proxy-${index}`),
      },
      etcd,
      env,
    ),
  );
}

/** `n` nodes that list every proxy of the group; resolves once each listens for clients. */
export async function startGroupNodes(
  n: number,
  dir: string,
  members: GroupMember[],
  env: Record<string, string>,
): Promise<GroupNode[]> {
  const ports = await freePorts(n);
  const nodes = ports.map((clientPort, i) => {
    const id = `node-${i + 1}`;
    const child = spawnNode(
      id,
      [join(root, 'dist', 'node', 'main.js')],
      base({
        NODE_ID: id,
        CLIENT_HOST: '127.0.0.1',
        CLIENT_PORT: String(clientPort),
        PROXY_URL: members.map((m) => m.url).join(','),
        DATA_DIR: join(dir, id),
        LOCAL_FALLBACK: '0',
        ...env,
      }),
      root,
    );
    return { id, clientPort, child };
  });
  return nodes;
}

/** One proxy's view, or an empty one when it does not answer. */
export async function memberState(m: GroupMember): Promise<MemberState> {
  try {
    const res = await fetch(`http://127.0.0.1:${m.port}/api/cluster`, {
      signal: AbortSignal.timeout(500),
    });
    const body = (await res.json()) as {
      group?: { role: 'leader' | 'follower'; epoch: number };
      nodes: Array<{ connected: boolean }>;
    };
    return {
      role: body.group?.role,
      epoch: body.group?.epoch,
      joined: body.nodes.filter((x) => x.connected).length,
    };
  } catch {
    return { joined: 0 };
  }
}

/** The leading member once it has every node joined, polled every 10 ms; undefined on timeout. */
export async function awaitLeader(
  members: GroupMember[],
  nodes: number,
  ms: number,
  onElected?: (m: GroupMember) => void,
): Promise<GroupMember | undefined> {
  const deadline = Date.now() + ms;
  let seen: GroupMember | undefined;
  while (Date.now() < deadline) {
    const states = await Promise.all(members.map((m) => memberState(m)));
    const i = states.findIndex((s) => s.role === 'leader');
    const leader = members[i];
    if (leader && leader !== seen) {
      seen = leader;
      onElected?.(leader);
    }
    if (leader && states[i]?.joined === nodes) return leader;
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}
