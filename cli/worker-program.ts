import { spawn } from 'node:child_process';
import type { WorkerJob } from '../client/index.js';
import { OutputClip } from '../shared/output-clip.js';

/**
 * stdout kept as a job's output: its head and tail past this (a worker's result line holds
 * at most about 60 KiB anyway, and is clipped again to fit).
 */
const MAX_STDOUT = 128 * 1024;
/** The end of stderr kept to say why a run failed. */
const STDERR_TAIL = 2000;

/**
 * The command line of one job: a word that is exactly `{}` becomes the job's args (each its
 * own word), `{}` inside a word becomes the args joined by spaces, and with no `{}` anywhere
 * the args are appended.
 */
export function commandOf(argv: readonly string[], args: readonly string[]): string[] {
  if (!argv.some((w) => w.includes('{}'))) return [...argv, ...args];
  return argv.flatMap((w) => (w === '{}' ? [...args] : [w.split('{}').join(args.join(' '))]));
}

/**
 * Runs `argv` for one job: the job's stdin on its stdin, its env added to this process's,
 * PETREL_TICKET, PETREL_TYPE and PETREL_ATTEMPT set. Exit 0: resolves with stdout (the job's
 * output). Anything else: rejects with the exit code or signal and the last line of stderr.
 * stderr also goes to this process's stderr, for whoever runs the worker. Aborting the job's
 * signal (the node took it back, the worker stops) kills the program and whatever it started:
 * it runs in a process group of its own, which goes when it exits, as on a node. Being its
 * own group also keeps a Ctrl-C at the terminal from failing the job before the worker has
 * given it back.
 */
export function runProgram(argv: readonly string[], job: WorkerJob): Promise<string> {
  const [program, ...rest] = commandOf(argv, job.args);
  return new Promise((resolve, reject) => {
    const child = spawn(program as string, rest, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: {
        ...process.env,
        ...job.env,
        PETREL_TICKET: job.ticket,
        PETREL_TYPE: job.type,
        PETREL_ATTEMPT: String(job.attempt),
      },
    });
    const out = new OutputClip(MAX_STDOUT);
    let errTail = '';
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const onAbort = () => killGroup(child.pid);
    job.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      errTail = (errTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.stdin.on('error', () => {}); // a program that does not read its stdin
    child.stdin.end(job.stdin ?? '');
    child.on('error', (err) => {
      job.signal.removeEventListener('abort', onAbort);
      reject(new Error(`cannot run ${program}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // what it left running (`cmd &`) would hold its pipes open, and the job, for ever
      killGroup(child.pid);
    });
    child.on('close', (closeCode, closeSignal) => {
      job.signal.removeEventListener('abort', onAbort);
      const { code, signal } = exit ?? { code: closeCode, signal: closeSignal };
      if (code === 0) return resolve(out.result().text);
      const how = code !== null ? `exit code ${code}` : `signal ${signal ?? 'unknown'}`;
      const last = errTail.trim().split('\n').pop()?.trim();
      reject(new Error(last ? `${how}: ${last}` : how));
    });
  });
}

/** SIGKILL to the program's whole group; one already gone is fine. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group
  }
}
