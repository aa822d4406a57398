import { dropMarker } from '../shared/output-clip.js';
import { encodeText } from '../shared/worker-text.js';

/** Lines are limited to 64 KiB on the node; a result is cut to fit well within. */
export const MAX_RESULT_LINE = 60 * 1024;

const MARKER_RE = /\n\[\.\.\. (\d+) bytes dropped \.\.\.\]\n/g;

/**
 * `DONE`/`FAIL` with the text encoded. Text too long for one line keeps its head and its tail
 * (where programs print their errors) around a marker saying how many bytes were dropped, as
 * a node clips a program's output; a marker already inside the dropped part is counted in.
 */
export function resultLine(verb: 'DONE' | 'FAIL', ticket: string, text: string): string {
  const line = (t: string) => `${verb} ${ticket} ${encodeText(t)}`.trimEnd();
  const whole = line(text);
  if (Buffer.byteLength(whole) <= MAX_RESULT_LINE) return whole;
  // the most characters kept at each end that still fit: a binary search over that number
  let lo = 0;
  let hi = Math.floor(text.length / 2);
  let best = line(clipMiddle(text, 0));
  while (lo <= hi) {
    const keep = Math.floor((lo + hi) / 2);
    const candidate = line(clipMiddle(text, keep));
    if (Buffer.byteLength(candidate) <= MAX_RESULT_LINE) {
      best = candidate;
      lo = keep + 1;
    } else {
      hi = keep - 1;
    }
  }
  return best;
}

/** `text` with all but `keep` characters at each end replaced by a marker. */
function clipMiddle(text: string, keep: number): string {
  let head = text.slice(0, keep);
  let tail = keep === 0 ? '' : text.slice(text.length - keep);
  // never split a surrogate pair: a lone half would not survive the trip as UTF-8
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  if (/^[\udc00-\udfff]/.test(tail)) tail = tail.slice(1);
  const middle = text.slice(head.length, text.length - tail.length);
  let dropped = Buffer.byteLength(middle);
  for (const m of middle.matchAll(MARKER_RE)) {
    dropped += Number(m[1]) - Buffer.byteLength(m[0]);
  }
  return head + dropMarker(dropped) + tail;
}
