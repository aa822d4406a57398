import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { CANCELLED_BY_CLIENT, type JobSpec } from '../shared/job.js';
import type { OutputStream } from '../shared/run-log-format.js';
import { clipNote, OutputClip } from '../shared/output-clip.js';

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

/** Receives every byte an `exec` job prints, in arrival order, saying which stream it came on. */
export type OutputSink = (chunk: Buffer, stream: OutputStream) => void;

/**
 * Runs one job; resolves (never rejects) when it ends. Aborting `signal` cancels it. `sink`
 * sees the whole output as it is produced, the result only its head and tail.
 */
export function runJob(
  spec: JobSpec,
  opts: RunnerOptions,
  signal: AbortSignal,
  sink?: OutputSink,
): Promise<RunOutcome> {
  if (signal.aborted) return Promise.resolve(cancelled(''));
  try {
    switch (spec.type) {
      case 'sleep':
        return runSleep(Number(spec.args[0]), spec.timeoutMs, signal);
      case 'echo':
        return Promise.resolve(runEcho(spec.args, opts.outputLimit));
      case 'exec':
        return runExec(spec, opts, signal, sink);
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

/**
 * The outcome of a job that needs no waiting (`echo`), computed now: the executor then ends
 * it at once instead of holding a slot until a later turn of the event loop. Undefined for a
 * job that has to wait for something (a timer, a program).
 */
export function instantOutcome(spec: JobSpec, opts: RunnerOptions): RunOutcome | undefined {
  return spec.type === 'echo' ? runEcho(spec.args, opts.outputLimit) : undefined;
}

/** A UTF-16 surrogate, paired or lone: text without one is its own UTF-8 round trip. */
const SURROGATE = /[\ud800-\udfff]/;

function runEcho(args: readonly string[], limit: number): RunOutcome {
  const text = args.join(' ');
  // short and free of surrogates: it fits the limit and reads back unchanged, so no clipping
  if (text.length * 3 <= limit && !SURROGATE.test(text)) return done(0, text, null);
  const clip = new OutputClip(limit);
  clip.push(Buffer.from(text));
  const kept = clip.result();
  return done(0, kept.text, clipNote(limit, kept));
}

/** How an `exec` ended before we know its exit status, when we ended it ourselves. */
type KillReason = 'timeout' | 'cancel' | null;

function runExec(
  spec: JobSpec,
  opts: RunnerOptions,
  signal: AbortSignal,
  sink: OutputSink | undefined,
): Promise<RunOutcome> {
  const [program = '', ...args] = spec.args;
  const refusal = execRefusal(program, opts.execAllow);
  if (refusal !== null) return Promise.resolve(failed(null, '', `FORBIDDEN: ${refusal}`));
  const cwd = spec.cwd ?? CHILD_CWD;
  const cwdProblem = directoryProblem(cwd);
  if (cwdProblem !== null) return Promise.resolve(failed(null, '', cwdProblem));

  return new Promise<RunOutcome>((resolve) => {
    const output = new OutputClip(opts.outputLimit);
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        shell: false,
        detached: true,
        stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        // the job's own variables over the fixed base; the node's environment is never read
        env: { ...CHILD_ENV, ...spec.env },
        cwd,
      });
    } catch (err) {
      resolve(failed(null, '', `cannot run ${program}: ${describe(err)}`));
      return;
    }
    feedStdin(child, spec.stdin);
    const onOutput = (chunk: Buffer, stream: OutputStream) => {
      output.push(chunk);
      sink?.(chunk, stream);
    };
    watchChild(child, program, onOutput, output, spec.timeoutMs, signal, resolve);
  });
}

/** Why `cwd` cannot be a job's working directory on this node, or null. */
function directoryProblem(cwd: string): string | null {
  if (!posix.isAbsolute(cwd)) return `cwd ${cwd} is not an absolute path`;
  try {
    return statSync(cwd).isDirectory() ? null : `cwd ${cwd} is not a directory on this node`;
  } catch {
    return `cwd ${cwd} does not exist on this node`;
  }
}

/** Writes the job's stdin and closes it; a program that exits without reading it is fine. */
function feedStdin(child: ChildProcess, stdin: string | undefined): void {
  if (stdin === undefined || !child.stdin) return;
  child.stdin.on('error', () => {}); // EPIPE: the program did not read all of it
  child.stdin.end(stdin);
}

/** Wires a spawned child to its output buffer, deadline and abort signal; resolves once. */
function watchChild(
  child: ChildProcess,
  program: string,
  onOutput: OutputSink,
  output: OutputClip,
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

  child.stdout?.on('data', (chunk: Buffer) => onOutput(chunk, 'stdout'));
  child.stderr?.on('data', (chunk: Buffer) => onOutput(chunk, 'stderr'));
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
  clip: OutputClip,
  killReason: KillReason,
  exit: { code: number | null; signal: NodeJS.Signals | null } | null,
  spawnError: Error | null,
): RunOutcome {
  const kept = clip.result();
  const output = kept.text;
  if (spawnError !== null) return failed(null, output, spawnFailure(program, spawnError));
  if (killReason === 'cancel') return cancelled(output);
  if (killReason === 'timeout') return failed(null, output, TIMEOUT_ERROR);
  const code = exit?.code ?? null;
  if (code === 0) return done(0, output, clipNote(clip.limit, kept));
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

function done(exitCode: number, output: string, error: string | null): RunOutcome {
  return { state: 'done', exitCode, output, error };
}

function failed(exitCode: number | null, output: string, error: string): RunOutcome {
  return { state: 'failed', exitCode, output, error };
}

function cancelled(output: string): RunOutcome {
  return { state: 'cancelled', exitCode: null, output, error: CANCELLED_BY_CLIENT };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
