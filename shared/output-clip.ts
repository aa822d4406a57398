/**
 * A job's output as its result keeps it: everything up to `limit` bytes; past that, the head
 * and the tail (where programs print their errors) with a marker saying how many bytes were
 * dropped between them. It holds at most `limit` bytes however much is pushed through it.
 */

/** Below this limit there is no room for a useful marker: the output is only cut short. */
const MIN_LIMIT_FOR_MARKER = 128;

/** The line put where bytes were dropped. */
export function dropMarker(dropped: number): string {
  return `\n[... ${dropped} bytes dropped ...]\n`;
}

export interface ClippedOutput {
  /** Valid UTF-8, never longer than the limit in bytes. */
  text: string;
  /** Bytes of the output not in `text` (0 when it is whole). */
  dropped: number;
}

/**
 * The result's `error` for output that was clipped: how many bytes were dropped and where,
 * `null` when nothing was. The job's outcome is unchanged (a clipped job that exited 0 is
 * `done`); the note says its `output` is not the whole of it.
 */
export function clipNote(limit: number, out: ClippedOutput): string | null {
  if (out.dropped <= 0) return null;
  // between head and tail a marker says so; a limit too small for one keeps only the start
  const where = out.text.includes(dropMarker(out.dropped)) ? 'from the middle' : 'from the end';
  return `output clipped to JOB_OUTPUT_LIMIT (${limit} bytes): ${out.dropped} bytes dropped ${where}; LOGS reads them`;
}

export class OutputClip {
  readonly limit: number;
  private readonly headCap: number;
  private readonly head: Buffer[] = [];
  private headSize = 0;
  /** The newest bytes after the head, at most `limit - headCap` of them. */
  private tail: Buffer[] = [];
  private tailSize = 0;
  /** Every byte pushed. */
  total = 0;

  constructor(limit: number) {
    this.limit = Math.max(0, limit);
    this.headCap = this.limit < MIN_LIMIT_FOR_MARKER ? this.limit : Math.ceil(this.limit / 2);
  }

  get clipped(): boolean {
    return this.total > this.limit;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.headCap - this.headSize;
    if (room > 0) {
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.head.push(kept);
      this.headSize += kept.length;
      chunk = chunk.subarray(kept.length);
    }
    const tailCap = this.limit - this.headCap;
    if (chunk.length === 0 || tailCap === 0) return;
    if (chunk.length >= tailCap) {
      this.tail = [Buffer.from(chunk.subarray(chunk.length - tailCap))];
      this.tailSize = tailCap;
      return;
    }
    this.tail.push(chunk);
    this.tailSize += chunk.length;
    while (this.tailSize > tailCap) {
      const first = this.tail[0] as Buffer;
      const excess = this.tailSize - tailCap;
      if (first.length <= excess) {
        this.tail.shift();
        this.tailSize -= first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailSize -= excess;
      }
    }
  }

  /** The kept output; when clipped, head + marker + tail within `limit` bytes. */
  result(): ClippedOutput {
    const head = Buffer.concat(this.head, this.headSize);
    const tail = Buffer.concat(this.tail, this.tailSize);
    if (!this.clipped) {
      const text = Buffer.concat([head, tail]).toString('utf8');
      // invalid bytes become U+FFFD (3 bytes each), which can push it over the limit
      return fitWhole(text, this.limit, this.total);
    }
    const headText = withoutPartialEnd(head).toString('utf8');
    if (this.limit < MIN_LIMIT_FOR_MARKER) {
      const text = truncateUtf8(headText, this.limit);
      return { text, dropped: this.total - Buffer.byteLength(text) };
    }
    let tailText = withoutPartialStart(tail).toString('utf8');
    // the marker's own bytes come out of the tail, so the whole stays within the limit
    for (;;) {
      const keptBytes = Buffer.byteLength(headText) + Buffer.byteLength(tailText);
      const marker = dropMarker(this.total - keptBytes);
      const excess = keptBytes + Buffer.byteLength(marker) - this.limit;
      if (excess <= 0)
        return { text: headText + marker + tailText, dropped: this.total - keptBytes };
      tailText = dropLeadingBytes(tailText, excess);
    }
  }
}

function fitWhole(text: string, limit: number, total: number): ClippedOutput {
  const fitted = truncateUtf8(text, limit);
  return { text: fitted, dropped: fitted === text ? 0 : total - Buffer.byteLength(fitted) };
}

/** `text` without its first `n` bytes of UTF-8 (more, to end on a character boundary). */
function dropLeadingBytes(text: string, n: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return withoutPartialStart(bytes.subarray(Math.min(n, bytes.length))).toString('utf8');
}

/** `bytes` without an incomplete UTF-8 sequence at its very end. */
function withoutPartialEnd(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const b = bytes[bytes.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: keep looking for its lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

/** `bytes` without the continuation bytes of a character whose start was cut off. */
function withoutPartialStart(bytes: Buffer): Buffer {
  let start = 0;
  while (start < Math.min(3, bytes.length) && ((bytes[start] as number) & 0xc0) === 0x80) start++;
  return bytes.subarray(start);
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
