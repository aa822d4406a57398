import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineClient } from './line-client.js';
import { pacedRequests } from './paced.js';
import { spawnNode, stopChild, type Child } from './processes.js';

const PORT_WAIT_MS = 10_000;
const POOL = 8;

/**
 * One commit through Petrel's group commit, in Node processes of their own, at `arrivals` (ms
 * from the start): `commit-server.js` answers a line once a row for it is on disk, so each
 * request's time is the wake-ups, the line and the commit with its sync, and nothing of
 * Petrel's work on a job. Requests go over pools of idle connections, as the light load's do;
 * with `servers` above one, request `i` goes to server `i % servers`, as the light load spreads
 * its jobs over the nodes (each process then wakes for a share of the requests, as each node
 * does). Returns each request's time from send to reply.
 */
export async function measureCommitServer(
  arrivals: readonly number[],
  servers = 1,
  dir = tmpdir(),
): Promise<number[]> {
  const root = mkdtempSync(join(dir, 'petrel-commit-server-'));
  const script = fileURLToPath(new URL('./commit-server.js', import.meta.url));
  const children: Child[] = [];
  const pools: LineClient[][] = [];
  try {
    for (let s = 0; s < servers; s++) {
      const home = join(root, String(s));
      mkdirSync(home);
      const child = spawnNode(
        'commit-server',
        [script, home],
        { PATH: process.env.PATH ?? '' },
        home,
      );
      children.push(child);
      const port = await portOf(child);
      pools.push(await Promise.all(Array.from({ length: POOL }, () => LineClient.connect(port))));
    }
    return await pacedRequests(arrivals, (i, done) => {
      const pool = pools[i % servers] as LineClient[];
      (pool[Math.floor(i / servers) % pool.length] as LineClient).send('x', done);
    });
  } finally {
    for (const c of pools.flat()) c.close();
    await Promise.all(children.map((c) => stopChild(c)));
    rmSync(root, { recursive: true, force: true });
  }
}

/** The port the server prints as its first line. */
function portOf(child: Child): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`commit-server did not start: ${child.tail()}`));
    }, PORT_WAIT_MS);
    child.proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const port = Number(out.slice(0, nl));
      if (Number.isInteger(port) && port > 0) resolve(port);
      else reject(new Error(`commit-server printed ${out.slice(0, nl)}`));
    });
    void child.exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`commit-server exited (${how}): ${child.tail()}`));
    });
  });
}
