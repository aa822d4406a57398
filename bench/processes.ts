import { spawn, type ChildProcess } from 'node:child_process';
import { onCleanup } from './cleanup.js';

/** How many lines of each child's output are kept to explain an unexpected exit. */
const TAIL_LINES = 60;

/** A child process the benchmark started: always killed when the benchmark ends. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<string>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** The last lines the process wrote to stdout and stderr. */
  tail(): string;
}

/** Every live child, so the cleanup can kill them whatever path the benchmark takes. */
const live = new Set<Child>();

onCleanup(() => {
  for (const child of live) {
    try {
      child.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
});

/**
 * Spawns `node <args>` with exactly `env` (no shell). Output is consumed (so pipes never
 * fill) and its tail kept for error messages.
 */
export function spawnNode(
  name: string,
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
): Child {
  const proc = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`could not spawn ${name}`);
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      lines.push(line.length > 500 ? `${line.slice(0, 500)}...` : line);
      if (lines.length > TAIL_LINES) lines.shift();
    }
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let done = false;
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      live.delete(child);
      resolve(signal ?? String(code));
    });
    proc.once('error', (err) => {
      lines.push(`spawn error: ${err.message}`);
    });
  });
  const child: Child = {
    name,
    pid: proc.pid,
    proc,
    exited,
    hasExited: () => done,
    tail: () => lines.join('\n'),
  };
  live.add(child);
  return child;
}

/**
 * Stops a child: SIGTERM (the programs drain and exit, which also writes `--cpu-prof`
 * profiles), then SIGKILL after `graceMs`.
 */
export async function stopChild(child: Child, graceMs = 5000): Promise<string> {
  if (child.hasExited()) return child.exited;
  child.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      child.proc.kill('SIGKILL');
      resolve('SIGKILL (did not stop within grace)');
    }, graceMs);
  });
  const how = await Promise.race([child.exited, forced]);
  clearTimeout(timer);
  await child.exited;
  return how;
}

/** Gracefully stops every live child (SIGTERM, SIGKILL after the grace), e.g. on Ctrl-C. */
export async function stopAllChildren(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c, graceMs)));
}
