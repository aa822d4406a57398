import { MAX_BATCH } from '../shared/protocol.js';

/** `items` in frames of at most MAX_BATCH (none for no items). */
export function chunks<T>(items: T[]): T[][] {
  if (items.length === 0) return [];
  if (items.length <= MAX_BATCH) return [items];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += MAX_BATCH) out.push(items.slice(i, i + MAX_BATCH));
  return out;
}
