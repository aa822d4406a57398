import { WireError } from '../shared/errors.js';
import { taskTicket } from '../shared/ids.js';
import { isTerminal } from '../shared/job.js';
import { type JobView } from '../shared/job-view.js';
import type { FrameOf } from '../shared/protocol.js';
import { decodeLog } from '../shared/run-log-format.js';
import type { LogAsk } from './log-relay.js';

/** The most output the dashboard shows of one run; `petrel logs` reads all of it. */
export const DASHBOARD_LOG_BYTES = 512 * 1024;

/** A run's output as the dashboard shows it. */
export interface RunLog {
  /** The node that ran it (where its log is kept), if it started. */
  node: string | null;
  /** `log`: read from the node's disk; `result`: the head and tail its result keeps; `none`. */
  source: 'log' | 'result' | 'none';
  text: string;
  /** Bytes of the whole output so far (0 unless `source` is `log`). */
  size: number;
  /** Bytes of output shown, from the start. */
  shown: number;
  /** The run is still writing. */
  live: boolean;
}

const NOT_STARTED = new Set(['scheduled', 'blocked', 'queued']);

/** Where the output of a job, or of one of its tasks, is. */
function runOf(v: JobView, task: number | undefined) {
  if (v.tasks) {
    const t = task === undefined ? undefined : v.tasks.find((x) => x.index === task);
    if (!t)
      throw new WireError('BAD_REQUEST', `${v.ticket} has tasks 0-${v.tasks.length - 1}: name one`);
    // a task runs as a job of its own ticket, and its node keeps its log under that ticket
    return {
      ticket: taskTicket(v.ticket, t.index),
      node: t.node ?? null,
      state: t.state,
      output: t.output ?? '',
    };
  }
  if (task !== undefined && task !== 0) {
    throw new WireError('BAD_REQUEST', `${v.ticket} is one job without tasks: its only task is 0`);
  }
  return { ticket: v.ticket, node: v.node ?? null, state: v.state, output: v.output ?? '' };
}

/**
 * The start of a run's output, read from the node that ran it. A run that kept no log (an
 * `echo`, or a node that has expired it) shows what its result keeps.
 */
export async function readRunLog(
  v: JobView,
  task: number | undefined,
  ask: (req: LogAsk) => Promise<FrameOf<'LOG_DATA'>>,
): Promise<RunLog> {
  const run = runOf(v, task);
  const fromResult = (): RunLog => {
    const text = isTerminal(run.state) ? run.output : '';
    const source = text ? 'result' : 'none';
    return { node: run.node, source, text, size: 0, shown: 0, live: false };
  };
  if (!run.node || NOT_STARTED.has(run.state)) return fromResult();
  const f = await ask({
    ticket: run.ticket,
    node: run.node,
    offset: 0,
    max: DASHBOARD_LOG_BYTES,
    waitMs: 0,
  });
  if (f.status === 'unavailable') {
    throw new WireError(
      'UNAVAILABLE',
      `node ${run.node}, which ran it, is not connected; try again`,
    );
  }
  if (f.status === 'none') return fromResult();
  const data = Buffer.from(f.data, 'base64');
  // both streams, line by line as they were printed (the file marks whose each line is)
  const output = Buffer.concat(decodeLog(data).map((p) => p.data));
  const text = output.toString('utf8');
  const shown = output.length;
  return {
    node: run.node,
    source: 'log',
    text,
    // output bytes, as a person counts them; of a log read in part, the file's size says
    // nearly as much (its marks are two bytes a line)
    size: data.length >= f.size ? shown : f.size,
    shown,
    live: f.live,
  };
}
