import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { LOG_HEADER, type OutputStream } from '../shared/run-log-format.js';
import { LogFramer } from './log-framer.js';

const HEADER = Buffer.from(LOG_HEADER);

/**
 * The whole output of the runs this node executes, one file per run under
 * `DATA_DIR/logs`, for `LOGS` and `TAIL`. A run is a ticket and, for a job of many tasks, the
 * task's index. A file keeps stdout and stderr apart, line by line (shared/run-log-format.ts),
 * holds at most `limit` bytes of output (JOB_LOG_LIMIT) and then one line saying how much
 * more was printed; files go when their job's RESULT_TTL has passed. Output is not a promise,
 * so it is written without fsync, synchronously as the child's chunks come: the node holds no
 * more than an unfinished line per stream (at most PART_BYTES each), however much a job prints.
 */

export interface RunKey {
  ticket: string;
  task?: number;
}

export interface LogChunk {
  /** `none`: this node holds no output of that run (it printed nothing, or it expired). */
  status: 'ok' | 'none';
  offset: number;
  data: Buffer;
  /** Bytes in the log so far. */
  size: number;
  /** The run is still writing. */
  live: boolean;
}

/** The log of a run in progress. */
export interface RunLog {
  /** Output of the run as it comes; what a worker returns is stdout. */
  write(chunk: Buffer, stream?: OutputStream): void;
  /** The run ended: writes the lines still held, notes what went beyond the limit, closes. */
  end(): void;
}

const fileName = (k: RunKey) =>
  k.task === undefined ? `${k.ticket}.log` : `${k.ticket}.${k.task}.log`;

class LiveLog implements RunLog {
  fd: number | undefined;
  size = 0;
  ended = false;
  /** A write failed (a full disk): the rest is counted, not kept. */
  broken = false;
  readonly listeners = new Set<() => void>();
  private readonly framer: LogFramer;

  constructor(
    readonly path: string,
    limit: number,
    private readonly onEnd: () => void,
  ) {
    this.framer = new LogFramer(limit);
  }

  write(chunk: Buffer, stream: OutputStream = 'stdout'): void {
    if (this.ended) return;
    this.append(this.framer.push(stream, chunk));
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.append(this.framer.end());
    } finally {
      if (this.fd !== undefined) closeQuietly(this.fd);
      // an earlier run's output is not this run's; asked first, as a run that printed nothing
      // usually has no earlier file, and a failed unlink costs a thrown error (about 10 µs)
      else if (existsSync(this.path)) unlinkQuietly(this.path);
      this.onEnd();
      this.notify();
    }
  }

  private append(records: Buffer): void {
    if (records.length === 0 || this.broken) return;
    try {
      if (this.fd === undefined) {
        // opened on the first record: a run that prints nothing leaves no file behind; 'w'
        // replaces what an earlier run of the same ticket left here
        this.fd = openSync(this.path, 'w');
        writeSync(this.fd, HEADER);
        this.size += HEADER.length;
      }
      writeSync(this.fd, records);
      this.size += records.length;
      this.notify();
    } catch {
      // the job goes on; its result still has the head and tail of its output. Nothing more
      // is written, so the file never holds a record cut by the failure and then another.
      this.broken = true;
      this.framer.stop();
    }
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed or failing: nothing more to do with it
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there: nothing to remove
  }
}

export class RunLogs {
  private readonly live = new Map<string, LiveLog>();

  constructor(
    private readonly dir: string,
    /** JOB_LOG_LIMIT: bytes kept per run; 0 keeps none. */
    private readonly limit: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** Starts the log of a run; an earlier run's log of the same key is replaced. */
  start(key: RunKey): RunLog {
    const name = fileName(key);
    this.live.get(name)?.end();
    const log = new LiveLog(join(this.dir, name), this.limit, () => {
      if (this.live.get(name) === log) this.live.delete(name);
    });
    this.live.set(name, log);
    return log;
  }

  /** Up to `max` bytes of a run's log from `offset`. */
  read(key: RunKey, offset: number, max: number): LogChunk {
    const name = fileName(key);
    const live = this.live.get(name);
    let size: number;
    if (live) size = live.size;
    else {
      try {
        size = statSync(join(this.dir, name)).size;
      } catch {
        return { status: 'none', offset, data: Buffer.alloc(0), size: 0, live: false };
      }
    }
    const length = Math.max(0, Math.min(max, size - offset));
    const data = length > 0 ? readRange(join(this.dir, name), offset, length) : Buffer.alloc(0);
    return { status: 'ok', offset, data, size, live: live !== undefined };
  }

  /**
   * Resolves once the log of a live run grows past `offset` or its run ends, or after
   * `waitMs`, or when `signal` aborts; at once when the run is not live.
   */
  whenChanged(key: RunKey, offset: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    const live = this.live.get(fileName(key));
    if (!live || live.size > offset || waitMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        live.listeners.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      live.listeners.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Deletes the logs of runs that ended before `before` (epoch ms); returns how many. */
  expire(before: number): number {
    let n = 0;
    for (const name of readdirSync(this.dir)) {
      if (this.live.has(name)) continue;
      const path = join(this.dir, name);
      try {
        if (statSync(path).mtimeMs < before) {
          unlinkSync(path);
          n++;
        }
      } catch {
        // removed meanwhile
      }
    }
    return n;
  }

  /** Ends every live log (the node is stopping). */
  close(): void {
    for (const log of [...this.live.values()]) log.end();
  }
}

function readRange(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, offset);
    return n === length ? buf : buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
