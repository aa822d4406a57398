import { spawn, type ChildProcess } from 'node:child_process';
import { posix } from 'node:path';
import type { JobSpec } from '../shared/job.js';

/**
 * Runs one job on this node: `sleep`, `echo`, or `exec` of an allowed program. Slots and
 * queueing live elsewhere; this module only turns a spec into an outcome, and always cleans
 * up after itself (timers, abort listeners, the child's whole process group).
 */

export interface RunnerOptions {
  /** `EXEC_ALLOW`: program names (looked up on PATH), absolute paths, or `*` for any. */
  execAllow: readonly string[];
  /** `JOB_OUTPUT_LIMIT`: bytes of output kept per job. */
  outputLimit: number;
}

export interface RunOutcome {
  state: 'done' | 'failed' | 'cancelled';
  exitCode: number | null;
  output: string;
  error: string | null;
}

/** A job's environment: nothing of the node's own (secrets, tokens) leaks into it. */
const CHILD_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/bin:/usr/bin:/bin',
  LANG: 'C.UTF-8',
  HOME: '/tmp',
});
/** Jobs run outside the node's data directory, so they cannot write into its database. */
const CHILD_CWD = '/tmp';
/**
 * After the program exits and its group is killed, how long we wait for its pipes to close.
 * Only a process that escaped the group (its own `setsid`) can hold them open longer.
 */
const DRAIN_GRACE_MS = 2000;

export const TIMEOUT_ERROR = 'TIMEOUT';

/**
 * Whether `exec` may run `program`: null when allowed, else a reason a person can read.
 * Used at submit time as well as before running, so a forbidden program never gets a ticket.
 */
export function execRefusal(program: string, execAllow: readonly string[]): string | null {
  if (execAllow.length === 0) return 'exec is disabled on this node (EXEC_ALLOW is empty)';
  if (program === '' || program.includes('\0')) return 'exec needs a program name';
  const isPath = program.includes('/');
  if (isPath && !posix.isAbsolute(program)) {
    return `${program} is a relative path; name a program or give its absolute path`;
  }
  if (program === '.' || program === '..') return `${program} is not a program`;
  if (execAllow.includes('*')) return null;
  const allowed = isPath
    ? execAllow.some((p) => posix.isAbsolute(p) && posix.normalize(p) === posix.normalize(program))
    : execAllow.includes(program);
  return allowed ? null : `${program} is not in EXEC_ALLOW`;
}

/** Runs one job; resolves (never rejects) when it ends. Aborting `signal` cancels it. */
export function runJob(
  spec: JobSpec,
  opts: RunnerOptions,
  signal: AbortSignal,
): Promise<RunOutcome> {
  if (signal.aborted) return Promise.resolve(cancelled(''));
  try {
    switch (spec.type) {
      case 'sleep':
        return runSleep(Number(spec.args[0]), spec.timeoutMs, signal);
      case 'echo':
        return Promise.resolve(runEcho(spec.args, opts.outputLimit));
      case 'exec':
        return runExec(spec.args, spec.timeoutMs, opts, signal);
      default:
        return Promise.resolve(
          failed(null, '', `this node has no runner for ${spec.type ?? 'a job of tasks'}`),
        );
    }
  } catch (err) {
    return Promise.resolve(failed(null, '', `internal error: ${describe(err)}`));
  }
}

function runSleep(ms: number, timeoutMs: number | undefined, signal: AbortSignal) {
  if (!Number.isFinite(ms) || ms < 0) {
    return Promise.resolve(failed(null, '', 'sleep needs a non-negative number of ms'));
  }
  return new Promise<RunOutcome>((resolve) => {
    const finish = (outcome: RunOutcome) => {
      clearTimeout(sleepTimer);
      clearTimeout(deadline);
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = () => finish(cancelled(''));
    // Registered first so that a sleep exactly as long as its timeout counts as done.
    const sleepTimer = setTimeout(() => finish(done(0, '', null)), ms);
    const deadline =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => finish(failed(null, '', TIMEOUT_ERROR)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function runEcho(args: readonly string[], limit: number): RunOutcome {
  const text = args.join(' ');
  const output = truncateUtf8(text, limit);
  return done(0, output, output.length < text.length ? truncationNote(limit) : null);
}

/** How an `exec` ended before we know its exit status, when we ended it ourselves. */
type KillReason = 'timeout' | 'cancel' | null;

function runExec(
  argv: readonly string[],
  timeoutMs: number | undefined,
  opts: RunnerOptions,
  signal: AbortSignal,
): Promise<RunOutcome> {
  const [program = '', ...args] = argv;
  const refusal = execRefusal(program, opts.execAllow);
  if (refusal !== null) return Promise.resolve(failed(null, '', `FORBIDDEN: ${refusal}`));

  return new Promise<RunOutcome>((resolve) => {
    const output = new OutputBuffer(opts.outputLimit);
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: CHILD_ENV,
        cwd: CHILD_CWD,
      });
    } catch (err) {
      resolve(failed(null, '', `cannot run ${program}: ${describe(err)}`));
      return;
    }
    watchChild(child, program, output, timeoutMs, signal, resolve);
  });
}

/** Wires a spawned child to its output buffer, deadline and abort signal; resolves once. */
function watchChild(
  child: ChildProcess,
  program: string,
  output: OutputBuffer,
  timeoutMs: number | undefined,
  signal: AbortSignal,
  resolve: (outcome: RunOutcome) => void,
): void {
  let killReason: KillReason = null;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  let grace: NodeJS.Timeout | undefined;
  let settled = false;

  const killGroup = (reason: KillReason) => {
    if (killReason === null && exit === null) killReason = reason;
    killProcessGroup(child.pid);
  };
  const onAbort = () => killGroup('cancel');
  const deadline =
    timeoutMs === undefined ? undefined : setTimeout(() => killGroup('timeout'), timeoutMs);

  const settle = () => {
    if (settled) return;
    settled = true;
    clearTimeout(deadline);
    clearTimeout(grace);
    signal.removeEventListener('abort', onAbort);
    child.stdout?.destroy();
    child.stderr?.destroy();
    resolve(outcomeOf(program, output, killReason, exit, spawnError));
  };

  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  child.on('error', (err) => {
    // Also emitted when a signal cannot be delivered; only a failed spawn ends the job.
    if (child.pid === undefined) {
      spawnError = err;
      settle();
    }
  });
  child.on('exit', (code, sig) => {
    exit = { code, signal: sig };
    // The job is over: whatever it left running in its group (`cmd &`) goes with it.
    killProcessGroup(child.pid);
    grace = setTimeout(settle, DRAIN_GRACE_MS);
  });
  child.on('close', settle);
  signal.addEventListener('abort', onAbort, { once: true });
}

function outcomeOf(
  program: string,
  buffer: OutputBuffer,
  killReason: KillReason,
  exit: { code: number | null; signal: NodeJS.Signals | null } | null,
  spawnError: Error | null,
): RunOutcome {
  const output = buffer.text();
  if (spawnError !== null) return failed(null, output, spawnFailure(program, spawnError));
  if (killReason === 'cancel') return cancelled(output);
  if (killReason === 'timeout') return failed(null, output, TIMEOUT_ERROR);
  const code = exit?.code ?? null;
  if (code === 0) return done(0, output, buffer.truncated ? truncationNote(buffer.limit) : null);
  if (code !== null) return failed(code, output, `exit code ${code}`);
  return failed(null, output, `signal ${exit?.signal ?? 'unknown'}`);
}

function spawnFailure(program: string, err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `cannot run ${program}: no such program`;
  if (code === 'EACCES') return `cannot run ${program}: permission denied`;
  return `cannot run ${program}: ${describe(err)}`;
}

/** SIGKILL to the whole group (`detached` made the child its leader); gone already is fine. */
function killProcessGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group has no members left.
  }
}

/**
 * stdout and stderr together, in arrival order, up to `limit` bytes. Past the limit it keeps
 * reading and discarding, so a chatty program never blocks on a full pipe.
 */
class OutputBuffer {
  readonly limit: number;
  truncated = false;
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(limit: number) {
    this.limit = Math.max(0, limit);
  }

  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  /** The kept bytes as valid UTF-8, never longer than the limit in bytes. */
  text(): string {
    let bytes: Buffer = Buffer.concat(this.chunks, this.size);
    // A character the limit cut in half is dropped, not turned into U+FFFD.
    if (this.truncated) bytes = withoutPartialTail(bytes);
    // Invalid bytes become U+FFFD (3 bytes each), which can push it over the limit again.
    return truncateUtf8(bytes.toString('utf8'), this.limit);
  }
}

/** `bytes` without an incomplete UTF-8 sequence at its very end. */
function withoutPartialTail(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const b = bytes[bytes.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: keep looking for its lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

/** The longest prefix of `text` that fits in `limit` bytes of UTF-8, cut between characters. */
export function truncateUtf8(text: string, limit: number): string {
  if (text.length * 3 <= limit) return text; // cannot be over: at most 3 bytes per UTF-16 unit
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return text;
  let end = Math.max(0, limit);
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

function truncationNote(limit: number): string {
  return `output truncated to ${limit} bytes`;
}

function done(exitCode: number, output: string, error: string | null): RunOutcome {
  return { state: 'done', exitCode, output, error };
}

function failed(exitCode: number | null, output: string, error: string): RunOutcome {
  return { state: 'failed', exitCode, output, error };
}

function cancelled(output: string): RunOutcome {
  return { state: 'cancelled', exitCode: null, output, error: null };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
