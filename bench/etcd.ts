import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.js';

/** A throwaway single-member etcd (Debian's `etcd-server`) for tests and benchmarks. */
export interface EtcdServer {
  /** The client URL, for ETCD_ENDPOINTS. */
  endpoint: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The etcd binary's path, or undefined when etcd is not installed. */
export function etcdBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

/**
 * Starts etcd on free loopback ports with its data in a fresh temporary directory and waits
 * until it answers. Short heartbeats let leases as short as 1 s be granted.
 */
export async function startEtcd(bin: string, host = '127.0.0.1'): Promise<EtcdServer> {
  const [client, peer] = (await freePorts(2)) as [number, number];
  const dir = mkdtempSync(join(tmpdir(), 'petrel-etcd-'));
  const endpoint = `http://${host}:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const child = spawn(
    bin,
    [
      '--name=petrel-test',
      `--data-dir=${dir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=petrel-test=${peerUrl}`,
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok && ((await res.json()) as { health?: string }).health === 'true') break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not start: ${stderr.trim() || 'no answer on /health'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { endpoint, child, stop };
}
