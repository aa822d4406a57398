#!/usr/bin/env node
/**
 * `npm run proof:durability [-- <submits>]`: the durability rule shown by the kernel. A proxy
 * and a node run under `strace -f` with DURABILITY=fsync; a client pipelines thousands of
 * SUBMITs; then each trace is checked: every `OK <ticket>` the node wrote to a client socket
 * came after an fsync/fdatasync of the WAL that holds the ticket, and every ACK the proxy sent
 * for a forwarded job came after an fsync/fdatasync of the WAL that holds the job.
 * Needs Debian's `strace`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts } from './ports.js';
import { ackedIds, checkTrace, okReplies, type TraceCounts } from './strace-check.js';

// the built programs, whether this runs from dist/bench or from the sources (tests)
const parent = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = basename(parent) === 'dist' ? parent : join(parent, 'dist');

/** Whether `strace` can trace here (installed, and allowed to ptrace). */
export function straceWorks(): boolean {
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

export interface ProofResult {
  submits: number;
  node: TraceCounts;
  proxy: TraceCounts;
}

function traced(which: 'proxy' | 'node', trace: string, env: Record<string, string>): ChildProcess {
  const args = ['-f', '-qq', '-y', '-s', '65536', '-o', trace];
  args.push('-e', 'trace=pwrite64,write,writev,fsync,fdatasync');
  args.push(process.execPath, join(dist, which, 'main.js'));
  return spawn('strace', args, {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', DURABILITY: 'fsync', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function logged(child: ChildProcess, text: string, ms = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms`)), ms);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => {
      if (!l.includes(text)) return;
      clearTimeout(timer);
      lines.removeAllListeners('line');
      child.stdout!.resume(); // keep draining its log
      resolve(l);
    });
  });
}

/** Sends `count` SUBMIT lines, 200 in flight at a time; returns the tickets. */
async function submitMany(port: number, count: number): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: socket }).on('line', (l) => {
    lines.push(l);
    wake?.();
  });
  const tickets: string[] = [];
  for (let sent = 0; sent < count;) {
    const n = Math.min(200, count - sent);
    socket.write(Array.from({ length: n }, (_, i) => `SUBMIT echo proof ${sent + i}\n`).join(''));
    sent += n;
    while (lines.length < n) await new Promise<void>((r) => (wake = r));
    for (const line of lines.splice(0, n)) {
      if (!line.startsWith('OK ')) throw new Error(`SUBMIT answered ${line}`);
      tickets.push(line.slice(3));
    }
  }
  socket.end();
  return tickets;
}

/** Stops the traced program (`pid`, from its log) gracefully; strace exits with it. */
function stopped(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(pid, 'SIGTERM');
  });
}

/** The program strace runs: its only child. */
function tracee(child: ChildProcess): number {
  const pid = child.pid as number;
  return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
}

/** Runs the whole proof: `submits` SUBMITs through a traced proxy and node. */
export async function proveDurability(submits: number): Promise<ProofResult> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-proof-'));
  const children: ChildProcess[] = [];
  try {
    const [proxyPort, clientPort] = (await freePorts(2)) as [number, number];
    const proxyDir = join(dir, 'proxy');
    const nodeDir = join(dir, 'node');
    const proxy = traced('proxy', join(dir, 'proxy.trace'), {
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: String(proxyPort),
      DATA_DIR: proxyDir,
    });
    children.push(proxy);
    await logged(proxy, 'proxy listening');
    const proxyPid = tracee(proxy);
    const node = traced('node', join(dir, 'node.trace'), {
      NODE_ID: 'proof',
      CLIENT_HOST: '127.0.0.1',
      CLIENT_PORT: String(clientPort),
      PROXY_URL: `ws://127.0.0.1:${proxyPort}/cluster`,
      DATA_DIR: nodeDir,
      SLOTS: '4',
    });
    children.push(node);
    await logged(node, 'joined the proxy');
    const nodePid = tracee(node);
    await submitMany(clientPort, submits);
    await stopped(node, nodePid); // a stopping node flushes; the proxy ACKed everything
    await stopped(proxy, proxyPid);
    // strace names files by their real path
    const wal = (file: string) => {
      const real = join(realpathSync(dirname(file)), basename(file));
      return (path: string) => path === real;
    };
    const trace = (name: string) => readFileSync(join(dir, name), 'utf8');
    return {
      submits,
      node: checkTrace(trace('node.trace'), wal(join(nodeDir, 'node.db-wal')), okReplies),
      proxy: checkTrace(trace('proxy.trace'), wal(join(proxyDir, 'proxy.db-wal')), ackedIds),
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(r: ProofResult): string {
  const row = (who: string, what: string, c: TraceCounts) =>
    `${who.padEnd(6)} ${what.padEnd(22)} promised ${c.promised}, after their WAL fsync ${c.proven}, ` +
    `violations ${c.violationCount} (WAL writes ${c.walWrites}, WAL fsyncs ${c.syncs})`;
  return [
    `${r.submits} SUBMITs with DURABILITY=fsync, traced with strace -f:`,
    row('node', 'OK <ticket> to clients', r.node),
    row('proxy', 'ACK of jobs and results', r.proxy),
    `       every job acknowledged: ${r.proxy.distinct} of ${r.submits} tickets`,
    ...[...r.node.violations, ...r.proxy.violations].map((v) => `  ${v.id}: ${v.why}`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!straceWorks()) {
    process.stderr.write('durability proof: needs strace (Debian: apt-get install strace)\n');
    process.exit(2);
  }
  const submits = Number(process.argv[2] ?? 5000);
  proveDurability(submits).then(
    (r) => {
      process.stdout.write(report(r) + '\n');
      process.exit(r.node.violationCount + r.proxy.violationCount === 0 ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(`durability proof failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
