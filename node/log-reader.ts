import { WireError } from '../shared/errors.js';
import { taskTicket } from '../shared/ids.js';
import { isTerminal } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import { LOG_CHUNK_BYTES, type FrameOf } from '../shared/protocol.js';
import { LogDecoder, type OutputPiece } from '../shared/run-log-format.js';
import type { LogReadRequest } from './proxy-link.js';
import type { LogChunk, RunKey, RunLogs } from './run-logs.js';

/** What the reader needs: ticket views, this node's own logs, and the proxy for the others. */
export interface LogAccess {
  nodeId: string;
  view(ticket: string): Promise<JobView | null>;
  local: RunLogs;
  remote(req: LogReadRequest): Promise<FrameOf<'LOG_DATA'>>;
}

/** How long one read of a live run waits for new output before looking at the job again. */
const FOLLOW_WAIT_MS = 10_000;
/** Pause between looks at a job that has not started, or whose result is on its way. */
const POLL_MS = 200;

/** The run a LOGS or TAIL names: the job itself, or one of its tasks. */
interface RunRef {
  key: RunKey;
  node: string | null;
  /** Changes when the job runs again (a retry, or a run lost with its node). */
  attempts: number;
  started: boolean;
  terminal: boolean;
  /** Its output as the result keeps it (head and tail). */
  output: string;
}

const NOT_STARTED = new Set(['scheduled', 'blocked', 'queued']);

/**
 * The run of `v` that `task` names. A plain job is its own only task (index 0); a job of
 * tasks names each task by its index, and each task's log lives on the node that ran it.
 */
export function runOf(v: JobView, task: number | undefined): RunRef {
  if (v.tasks) {
    const t = task === undefined ? undefined : v.tasks.find((x) => x.index === task);
    if (!t) {
      throw new WireError('BAD_REQUEST', `${v.ticket} has tasks 0-${v.tasks.length - 1}: name one`);
    }
    return {
      // each task runs as a job of its own ticket, and its node keeps its log under it
      key: { ticket: taskTicket(v.ticket, t.index) },
      node: t.node ?? null,
      attempts: 0,
      started: !NOT_STARTED.has(t.state),
      terminal: isTerminal(t.state),
      output: t.output ?? '',
    };
  }
  if (task !== undefined && task !== 0) {
    // the same mistake as naming a task past the end of a job of tasks: the same code
    throw new WireError('BAD_REQUEST', `${v.ticket} is one job without tasks: its only task is 0`);
  }
  return {
    key: { ticket: v.ticket },
    node: v.node ?? null,
    attempts: v.attempts,
    started: !NOT_STARTED.has(v.state),
    terminal: isTerminal(v.state),
    output: v.output ?? '',
  };
}

/** A run's output as its result keeps it, for a run without a log: one stream, stdout. */
function resultPieces(output: string): OutputPiece[] {
  return output === '' ? [] : [{ stream: 'stdout', data: Buffer.from(output) }];
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Reads a run's output for a client of this node, wherever the run executed: from this
 * node's disk, or through the proxy from the node that ran it.
 */
export class LogReader {
  constructor(private readonly access: LogAccess) {}

  private async chunk(
    run: RunRef,
    offset: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<LogChunk> {
    const node = run.node as string;
    if (node === this.access.nodeId) {
      await this.access.local.whenChanged(run.key, offset, waitMs, signal);
      return this.access.local.read(run.key, offset, LOG_CHUNK_BYTES);
    }
    const f = await this.access.remote({
      ...run.key,
      node,
      offset,
      max: LOG_CHUNK_BYTES,
      waitMs,
    });
    if (f.status === 'unavailable') {
      throw new WireError('UNAVAILABLE', `node ${node}, which ran it, is not connected; try again`);
    }
    const data = Buffer.from(f.data, 'base64');
    return { status: f.status, offset: f.offset, data, size: f.size, live: f.live };
  }

  /**
   * Everything the run printed so far (up to JOB_LOG_LIMIT), stream by stream in the order
   * its lines were completed; null for an unknown ticket.
   */
  async logs(ticket: string, task: number | undefined): Promise<OutputPiece[] | null> {
    const v = await this.access.view(ticket);
    if (!v) return null;
    const run = runOf(v, task);
    const fallback = () => resultPieces(run.terminal ? run.output : '');
    if (!run.node || !run.started) return fallback();
    const decoder = new LogDecoder();
    const pieces: OutputPiece[] = [];
    let offset = 0;
    const never = new AbortController().signal;
    for (;;) {
      const c = await this.chunk(run, offset, 0, never);
      // no log: the run printed nothing, or only a type without one (echo) has output
      if (c.status === 'none') return offset === 0 ? fallback() : [...pieces, ...decoder.end()];
      pieces.push(...decoder.push(c.data));
      offset += c.data.length;
      if (c.data.length === 0 || offset >= c.size) return [...pieces, ...decoder.end()];
    }
  }

  /**
   * Follows a run's output as it is produced: yields its pieces as they come, from the start,
   * and again from the start of each new run of the job; returns the job's final view (null
   * if the client left first).
   */
  async *follow(
    first: JobView,
    task: number | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<OutputPiece[], JobView | null> {
    let v = first;
    let offset = 0;
    let source = '';
    let decoder = new LogDecoder();
    while (!signal.aborted) {
      const run = runOf(v, task);
      const id = `${run.node ?? ''}#${run.attempts}`;
      if (run.node && id !== source) {
        source = id;
        offset = 0;
        decoder = new LogDecoder();
      }
      if (run.node && run.started) {
        let c: LogChunk;
        try {
          c = await this.chunk(run, offset, run.terminal ? 0 : FOLLOW_WAIT_MS, signal);
        } catch (e) {
          if (!(e instanceof WireError) || e.code !== 'UNAVAILABLE') throw e;
          if (run.terminal) return v; // its final result carries the head and tail
          await pause(POLL_MS * 5, signal);
          v = (await this.access.view(v.ticket).catch(() => null)) ?? v;
          continue;
        }
        if (c.data.length > 0) {
          offset += c.data.length;
          const pieces = decoder.push(c.data);
          if (pieces.length > 0) yield pieces;
          continue; // there may be more already
        }
        if (run.terminal) {
          const last =
            c.status === 'none' && offset === 0 ? resultPieces(run.output) : decoder.end();
          if (last.length > 0) yield last;
          return v;
        }
        if (!c.live) await pause(POLL_MS, signal);
      } else if (run.terminal) {
        if (run.output) yield resultPieces(run.output);
        return v;
      } else {
        await pause(POLL_MS, signal);
      }
      v = (await this.access.view(v.ticket).catch(() => null)) ?? v;
    }
    return null;
  }
}
