import { encodeRecord, type OutputStream } from '../shared/run-log-format.js';

/**
 * Turns what a run prints on stdout and stderr into the records of its log file
 * (shared/run-log-format.ts), keeping at most `limit` bytes of output. A stream's unfinished
 * line is held until its newline comes; a carriage return (a progress bar redrawn) and
 * `PART_BYTES` of a line without one are written at once as a part of the line, so a reader
 * following the log never waits long, and the node holds little of any stream.
 */

/** The most bytes of one stream held back waiting for a newline. */
export const PART_BYTES = 64 * 1024;

const NL = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** The last line of a log whose run printed more than the limit. */
export function overLimitNote(limit: number, dropped: number): string {
  return `[... ${dropped} more bytes not kept: JOB_LOG_LIMIT is ${limit} bytes ...]`;
}

export class LogFramer {
  /** Each stream's unfinished line, as the chunks it came in (joined once, when it ends). */
  private readonly held: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  private readonly heldBytes: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  /** A part was the stream's last record: its line is still open in the file. */
  private readonly open: Record<OutputStream, boolean> = { stdout: false, stderr: false };
  /** Bytes of output in the records so far. */
  kept = 0;
  /** Bytes of output not kept (past the limit, or after `stop`). */
  dropped = 0;
  private full = false;

  constructor(
    /** JOB_LOG_LIMIT: bytes of output kept; 0 keeps none. */
    readonly limit: number,
  ) {}

  /** The records to append for `chunk` of `stream` (empty while its line goes on). */
  push(stream: OutputStream, chunk: Buffer): Buffer {
    if (this.full) {
      this.dropped += chunk.length;
      return EMPTY;
    }
    if (
      this.heldBytes[stream] + chunk.length < PART_BYTES &&
      chunk.indexOf(NL) < 0 &&
      chunk.indexOf(CR) < 0
    ) {
      // the line goes on: a copy, since holding a slice would keep the child's whole chunk
      this.held[stream].push(Buffer.from(chunk));
      this.heldBytes[stream] += chunk.length;
      return EMPTY;
    }
    const out: Buffer[] = [];
    let buf = this.take(stream, chunk);
    let start = 0;
    for (let nl = buf.indexOf(NL); nl >= 0 && !this.full; nl = buf.indexOf(NL, start)) {
      this.emit(stream, buf.subarray(start, nl), true, out);
      start = nl + 1;
    }
    buf = buf.subarray(start);
    const cr = buf.lastIndexOf(CR);
    if (cr >= 0 && !this.full) {
      this.emit(stream, buf.subarray(0, cr + 1), false, out);
      buf = buf.subarray(cr + 1);
    }
    while (buf.length >= PART_BYTES && !this.full) {
      this.emit(stream, buf.subarray(0, PART_BYTES), false, out);
      buf = buf.subarray(PART_BYTES);
    }
    if (this.full) {
      this.dropped += buf.length;
      buf = EMPTY;
    }
    if (buf.length > 0) {
      this.held[stream].push(Buffer.from(buf));
      this.heldBytes[stream] = buf.length;
    }
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  /** What `stream` holds, followed by `chunk`; nothing is held after. */
  private take(stream: OutputStream, chunk: Buffer): Buffer {
    const held = this.held[stream];
    const all = held.length === 0 ? chunk : Buffer.concat([...held, chunk]);
    this.held[stream] = [];
    this.heldBytes[stream] = 0;
    return all;
  }

  /**
   * The run ended: the records of the lines still held, and past the limit a note saying how
   * much was not kept (after every line, on stderr, where a person looks for what went wrong).
   */
  end(): Buffer {
    const out: Buffer[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.take(stream, EMPTY);
      if (this.full) this.dropped += rest.length;
      else if (rest.length) this.emit(stream, rest, false, out);
    }
    if (this.dropped > 0 && this.kept > 0) {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (this.open[stream]) out.push(encodeRecord(stream, EMPTY, true));
      }
      out.push(encodeRecord('stderr', Buffer.from(overLimitNote(this.limit, this.dropped)), true));
    }
    return Buffer.concat(out);
  }

  /** Nothing more can be written (a full disk): the rest is counted, not kept. */
  stop(): void {
    this.full = true;
  }

  /** `bytes` of `stream` as records of at most PART_BYTES, within the limit. */
  private emit(stream: OutputStream, bytes: Buffer, ended: boolean, out: Buffer[]): void {
    let rest = bytes;
    while (rest.length > PART_BYTES) {
      if (!this.record(stream, rest.subarray(0, PART_BYTES), false, out)) return;
      rest = rest.subarray(PART_BYTES);
    }
    this.record(stream, rest, ended, out);
  }

  /** Appends one record if it fits; the first that does not is cut to fit and ends the log. */
  private record(stream: OutputStream, bytes: Buffer, ended: boolean, out: Buffer[]): boolean {
    const size = bytes.length + (ended ? 1 : 0);
    const room = this.limit - this.kept;
    if (size <= room) {
      if (size > 0) out.push(encodeRecord(stream, bytes, ended));
      this.kept += size;
      if (size > 0) this.open[stream] = !ended;
      return true;
    }
    const fit = bytes.subarray(0, Math.max(0, room));
    // the cut line ends the log's lines of its stream, so the note stands on a line of its own
    if (fit.length > 0) {
      out.push(encodeRecord(stream, fit, true));
      this.open[stream] = false;
    }
    this.kept += fit.length;
    this.dropped += size - fit.length;
    this.full = true;
    return false;
  }
}
