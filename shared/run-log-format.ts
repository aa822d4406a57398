/**
 * How a run's log file keeps stdout and stderr apart (node/run-logs.ts writes it, the node's
 * LOGS/TAIL and the proxy's dashboard read it, LOG_DATA carries its bytes unchanged).
 *
 * The file starts with the line `LOG_HEADER`; then each line of the file is one record: a mark
 * byte, bytes of output (never a newline), and `\n`. The mark says whose bytes they are and
 * whether the output had a newline after them:
 *
 *   `o` stdout bytes, then a newline      `O` stdout bytes, the line goes on in a later `o`/`O`
 *   `e` stderr bytes, then a newline      `E` stderr bytes, the line goes on in a later `e`/`E`
 *
 * So each stream's bytes come back exactly, in the order their lines were completed. A file
 * without the header (written before streams were kept apart) is read as all stdout.
 */

export type OutputStream = 'stdout' | 'stderr';

/** The first line of a log written with stream marks. */
export const LOG_HEADER = 'petrel-log 1\n';
const HEADER = Buffer.from(LOG_HEADER);
const NL = 0x0a;

/** A line of a run's output and the stream it was printed on (LOGS/TAIL `streams`). */
export interface OutputLine {
  stream: OutputStream;
  text: string;
}

/** Bytes of one stream's output, as the program printed them (a line's newline included). */
export interface OutputPiece {
  stream: OutputStream;
  data: Buffer;
}

const MARKS: Record<OutputStream, { line: number; part: number }> = {
  stdout: { line: 0x6f /* o */, part: 0x4f /* O */ },
  stderr: { line: 0x65 /* e */, part: 0x45 /* E */ },
};

/** One record: `bytes` (without newlines) of `stream`, `ended` when a newline followed them. */
export function encodeRecord(stream: OutputStream, bytes: Buffer, ended: boolean): Buffer {
  const out = Buffer.allocUnsafe(bytes.length + 2);
  out[0] = ended ? MARKS[stream].line : MARKS[stream].part;
  bytes.copy(out, 1);
  out[out.length - 1] = NL;
  return out;
}

const streamOf = (mark: number | undefined): OutputStream =>
  mark === MARKS.stderr.line || mark === MARKS.stderr.part ? 'stderr' : 'stdout';

function pieceOf(record: Buffer): OutputPiece {
  const mark = record[0];
  const stream = streamOf(mark);
  const ended = mark === MARKS.stdout.line || mark === MARKS.stderr.line;
  // the record's own newline stands for the output's when the line ended there
  return { stream, data: ended ? record.subarray(1) : record.subarray(1, record.length - 1) };
}

/**
 * Turns a log's bytes, read from its start in chunks of any size, back into output pieces.
 * A record cut between two chunks is held until its end arrives (records are short: the
 * writer cuts long lines into parts).
 */
export class LogDecoder {
  private mode: 'unknown' | 'marked' | 'raw' = 'unknown';
  private held: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): OutputPiece[] {
    if (this.mode === 'raw') return chunk.length ? [{ stream: 'stdout', data: chunk }] : [];
    let buf = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    if (this.mode === 'unknown') {
      const n = Math.min(buf.length, HEADER.length);
      if (!buf.subarray(0, n).equals(HEADER.subarray(0, n))) {
        this.mode = 'raw';
        this.held = Buffer.alloc(0);
        return buf.length ? [{ stream: 'stdout', data: buf }] : [];
      }
      if (n < HEADER.length) {
        this.held = Buffer.from(buf);
        return [];
      }
      this.mode = 'marked';
      buf = buf.subarray(HEADER.length);
    }
    const pieces: OutputPiece[] = [];
    let start = 0;
    for (let nl = buf.indexOf(NL); nl >= 0; nl = buf.indexOf(NL, start)) {
      if (nl > start) pieces.push(pieceOf(buf.subarray(start, nl + 1)));
      start = nl + 1;
    }
    // copied: the caller may reuse its chunk
    this.held = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
    return pieces;
  }

  /** The end of the log: what is held is output too (a log cut short, or an old log's start). */
  end(): OutputPiece[] {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    if (rest.length === 0) return [];
    if (this.mode !== 'marked') return [{ stream: 'stdout', data: rest }];
    // a record whose end was not read: its bytes, without a newline nobody saw
    return rest.length > 1 ? [{ stream: streamOf(rest[0]), data: rest.subarray(1) }] : [];
  }
}

/** Every piece of a whole log. */
export function decodeLog(log: Buffer): OutputPiece[] {
  const d = new LogDecoder();
  return [...d.push(log), ...d.end()];
}

/** A whole log's output as one text, both streams in the order their lines were completed. */
export function logText(log: Buffer): string {
  return Buffer.concat(decodeLog(log).map((p) => p.data)).toString('utf8');
}
