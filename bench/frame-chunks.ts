import { MAX_BATCH } from '../shared/protocol.js';

/** `items` in frames of at most MAX_BATCH; with `always`, one empty frame for no items. */
export function chunks<T>(items: T[], always = false): T[][] {
  if (items.length === 0) return always ? [[]] : [];
  if (items.length <= MAX_BATCH) return [items];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += MAX_BATCH) out.push(items.slice(i, i + MAX_BATCH));
  return out;
}

/** Two lists cut alike into frames of at most MAX_BATCH each (an ACK's jobs and results). */
export function chunkPairs(a: string[], b: string[]): [string[], string[]][] {
  const out: [string[], string[]][] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i += MAX_BATCH) {
    out.push([a.slice(i, i + MAX_BATCH), b.slice(i, i + MAX_BATCH)]);
  }
  return out;
}
