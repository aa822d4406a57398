import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineClient } from './line-client.js';
import { pacedRequests } from './paced.js';
import { spawnNode, stopChild, type Child } from './processes.js';

const PORT_WAIT_MS = 10_000;
const POOL = 8;

/**
 * One commit through Petrel's group commit, in a Node process of its own, at `arrivals` (ms
 * from the start): `commit-server.js` answers a line once a row for it is on disk, so each
 * request's time is the wake-ups, the line and the commit with its sync, and nothing of
 * Petrel's work on a job. Requests go over a pool of idle connections, as the light load's do;
 * returns each request's time from send to reply.
 */
export async function measureCommitServer(
  arrivals: readonly number[],
  dir = tmpdir(),
): Promise<number[]> {
  const root = mkdtempSync(join(dir, 'petrel-commit-server-'));
  const script = fileURLToPath(new URL('./commit-server.js', import.meta.url));
  const child = spawnNode('commit-server', [script, root], { PATH: process.env.PATH ?? '' }, root);
  try {
    const port = await portOf(child);
    const pool = await Promise.all(Array.from({ length: POOL }, () => LineClient.connect(port)));
    try {
      return await pacedRequests(arrivals, (i, done) =>
        (pool[i % pool.length] as LineClient).send('x', done),
      );
    } finally {
      for (const c of pool) c.close();
    }
  } finally {
    await stopChild(child);
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
