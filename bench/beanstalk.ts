import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pacedRequests } from './paced.js';
import { freePorts } from './ports.js';

/**
 * beanstalkd, the peer Petrel is measured against: started from Debian's package on a free
 * loopback port, either in memory or with its binlog fsync'd after every write (`-f 0`), and
 * driven in the same style as Petrel's load generator: many connections, each keeping a few
 * jobs in flight, each job put → reserve → delete.
 */

export function beanstalkdPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v beanstalkd'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : null;
}

export interface Beanstalkd {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts beanstalkd; `fsyncEachWrite` keeps a binlog and syncs it after every write. */
export async function startBeanstalkd(path: string, fsyncEachWrite: boolean): Promise<Beanstalkd> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const dir = fsyncEachWrite ? mkdtempSync(join(tmpdir(), 'petrel-beanstalkd-')) : null;
  const args = ['-l', '127.0.0.1', '-p', String(port)];
  if (dir !== null) args.push('-b', dir, '-f', '0');
  const child: ChildProcess = spawn(path, args, { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('beanstalkd did not start listening');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    pid: child.pid ?? NaN,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Reply = { head: string; body?: string };

/** One pipelined connection: replies come back in request order. */
class BeanstalkConn {
  private readonly waiting: Array<(r: Reply) => void> = [];
  private buf = '';
  private outbuf = '';
  private scheduled = false;
  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => this.onData(d));
  }

  static connect(port: number): Promise<BeanstalkConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new BeanstalkConn(s)));
      s.once('error', reject);
    });
  }

  send(command: string, onReply: (r: Reply) => void): void {
    this.waiting.push(onReply);
    this.outbuf += command;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        const out = this.outbuf;
        this.outbuf = '';
        this.socket.write(out);
      });
    }
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const head = this.buf.slice(0, eol);
      let consumed = eol + 2;
      let body: string | undefined;
      if (head.startsWith('RESERVED ')) {
        const bytes = Number(head.split(' ')[2]);
        if (this.buf.length < consumed + bytes + 2) return; // the body is still on its way
        body = this.buf.slice(consumed, consumed + bytes);
        consumed += bytes + 2;
      }
      this.buf = this.buf.slice(consumed);
      this.waiting.shift()?.({ head, body });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface PeerRun {
  readonly jobs: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly errors: number;
}

/**
 * `clients` connections, each keeping `depth` jobs in flight until `total` jobs were
 * deleted: a job counts when its delete is confirmed, the moment a worker is done with it.
 */
export async function beanstalkClosedLoop(
  port: number,
  clients: number,
  depth: number,
  total: number,
): Promise<PeerRun> {
  const conns = await Promise.all(
    Array.from({ length: clients }, () => BeanstalkConn.connect(port)),
  );
  let issued = 0;
  let done = 0;
  let errors = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const one = (c: BeanstalkConn): void => {
      if (issued >= total) return;
      issued++;
      c.send('put 0 0 60 1\r\nx\r\n', (r) => {
        if (!r.head.startsWith('INSERTED')) errors++;
      });
      c.send('reserve\r\n', (r) => {
        const id = r.head.split(' ')[1];
        if (!r.head.startsWith('RESERVED') || id === undefined) {
          errors++;
          return;
        }
        c.send(`delete ${id}\r\n`, (d) => {
          if (d.head !== 'DELETED') errors++;
          done++;
          if (done === total) resolve();
          else one(c);
        });
      });
    };
    for (const c of conns) for (let i = 0; i < depth; i++) one(c);
  });
  const seconds = (performance.now() - t0) / 1000;
  for (const c of conns) c.close();
  return { jobs: done, seconds, perSecond: done / seconds, errors };
}

/**
 * Light load against beanstalkd: puts sent at `arrivals` (ms from the start), each on an idle
 * connection of a pool, timed from send to INSERTED. At the pacing of Petrel's light-load run
 * this is the peer of its submit→ticket: both include the machine's wake-ups between requests,
 * which the back-to-back fsync floor does not.
 */
export async function beanstalkPaced(port: number, arrivals: readonly number[]): Promise<number[]> {
  const pool = await Promise.all(Array.from({ length: 8 }, () => BeanstalkConn.connect(port)));
  const samples = await pacedRequests(arrivals, (i, done) =>
    (pool[i % pool.length] as BeanstalkConn).send('put 0 0 60 1\r\nx\r\n', done),
  );
  for (const c of pool) c.close();
  return samples;
}
