import type { OutputLine } from '../client/index.js';
import { EXIT } from './exit-codes.js';

/**
 * `petrel`'s own stdout and stderr, and what happens when whoever reads them goes away
 * (`petrel ls | head -1`): the command ends quietly with the status a shell reports for a
 * program killed by SIGPIPE (141, as `seq 1 100000 | head -1` gets), after the clean-ups
 * registered with `onOutputClosed` (`petrel run` cancels its job, as its program would have
 * died of SIGPIPE here). Nothing is printed once the output is gone, and never a stack trace.
 */
let closed = false;
const cleanups = new Set<() => Promise<unknown>>();

/** How long the clean-ups may take before `petrel` exits anyway. */
const CLEANUP_MS = 3000;

/**
 * Watches stdout and stderr for the reader going away; called once by main.ts, which alone
 * ends the process (`exit`).
 */
export function watchOutput(exit: (code: number) => void): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => outputFailed(stream, err, exit));
  }
}

/** Whether stdout or stderr can no longer be written to. */
export const outputClosed = () => closed;

/** Runs `fn` before exiting when the output goes away; returns the function that removes it. */
export function onOutputClosed(fn: () => Promise<unknown>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

function outputFailed(
  stream: NodeJS.WriteStream,
  err: NodeJS.ErrnoException,
  exit: (code: number) => void,
): void {
  if (closed) return;
  closed = true;
  const code = err.code === 'EPIPE' ? EXIT.BROKEN_PIPE : EXIT.IO_ERROR;
  if (code === EXIT.IO_ERROR && stream === process.stdout) {
    // stdout failed for another reason (a full disk): say so on stderr, once
    process.stderr.write(`petrel: cannot write the output: ${err.message}\n`);
  }
  if (cleanups.size === 0) return exit(code);
  const deadline = new Promise((r) => setTimeout(r, CLEANUP_MS));
  const all = Promise.allSettled([...cleanups].map((fn) => fn()));
  void Promise.race([all, deadline]).then(() => exit(code));
}

/** A line on stdout. */
export const out = (text: string) => write(process.stdout, text + '\n');
/** A line on stderr. */
export const note = (text: string) => write(process.stderr, text + '\n');
/** A line of a job's output, on the stream the job printed it on (stdout or stderr). */
export const outputLine = (line: OutputLine) =>
  write(line.stream === 'stderr' ? process.stderr : process.stdout, line.text + '\n');
/** Text as it is, on stdout. */
export const outText = (text: string) => write(process.stdout, text);

function write(stream: NodeJS.WriteStream, text: string): boolean {
  return closed ? false : stream.write(text);
}
