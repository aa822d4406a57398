import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc } from './cluster.js';

type Teardown = (fn: () => unknown) => void;

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Why network namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need root)';
  const probe = `pn${process.pid % 100000}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.error || added.status !== 0)
    return 'ip netns does not work here (apt-get install iproute2)';
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Hosts made of network namespaces on one bridge: each has its own address (10.a.b.x/24) and
 * its own ports, and its link can be removed (the host vanishes from the network without a
 * word, as when a machine loses power) and put back.
 */
export class Hosts {
  private readonly tag = `p${randomInt(0, 36 ** 4)
    .toString(36)
    .padStart(4, '0')}`;
  private readonly net = `10.${randomInt(64, 250)}.${randomInt(0, 250)}`;
  private readonly bridge = `${this.tag}br`;
  private readonly hosts = new Map<string, { ns: string; index: number }>();
  /** The address of the machine running the test, on the bridge (etcd listens here). */
  readonly gateway = `${this.net}.1`;

  constructor(teardown: Teardown) {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    teardown(() => this.remove());
    ip('addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
  }

  /** Adds a host; returns its address. */
  add(name: string): string {
    const index = this.hosts.size + 10;
    const ns = `${this.tag}-${name}`;
    ip('netns', 'add', ns);
    this.hosts.set(name, { ns, index });
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    this.plug(name);
    return this.address(name);
  }

  address(name: string): string {
    return `${this.net}.${this.host(name).index}`;
  }

  private host(name: string): { ns: string; index: number } {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** Connects the host to the bridge (again) with its address. */
  plug(name: string): void {
    const { ns, index } = this.host(name);
    const outside = `${this.tag}h${index}`;
    const inside = `${this.tag}n${index}`;
    ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    ip('link', 'set', inside, 'netns', ns);
    ip('-n', ns, 'addr', 'add', `${this.net}.${index}/24`, 'dev', inside);
    ip('-n', ns, 'link', 'set', inside, 'up');
    ip('link', 'set', outside, 'master', this.bridge);
    ip('link', 'set', outside, 'up');
  }

  /** Removes the host's link: its processes run on, unreachable, and hear nothing. */
  cut(name: string): void {
    ip('link', 'del', `${this.tag}h${this.host(name).index}`);
  }

  /** Runs `dist/<which>/main.js` on a host. */
  start(name: string, which: 'proxy' | 'node', env: Record<string, string>, teardown: Teardown) {
    const child = spawn(
      'ip',
      ['netns', 'exec', this.host(name).ns, process.execPath, join(root, 'dist', which, 'main.js')],
      {
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', DURABILITY: 'relaxed', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const p = new Proc(child);
    teardown(() => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    });
    return p;
  }

  private remove(): void {
    for (const { ns } of this.hosts.values()) spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', this.bridge]);
  }
}
