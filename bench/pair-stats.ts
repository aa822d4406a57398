import { summarize } from './stats.js';

/**
 * The side of job `i` when jobs alternate between two clusters A (0) and B (1) in the order
 * A B B A, A B B A, ...: each side goes first in half the pairs, so neither always follows
 * the other's job (whose syncs and wake-ups it may meet).
 */
export function sideOf(i: number): 0 | 1 {
  return (i % 4 === 0 || i % 4 === 3 ? 0 : 1) as 0 | 1;
}

/** One side's samples in send order (NaN for a job that did not finish). */
export type Samples = ArrayLike<number>;

export interface PairedFigure {
  readonly a: number;
  readonly b: number;
  /** b ÷ a over all samples. */
  readonly ratio: number;
  /** b ÷ a of each block of `block` jobs a side, sorted: the spread within the run. */
  readonly blockRatios: readonly number[];
}

/**
 * The `p`th percentile (0..100) of each side and their ratio, over the whole run and over
 * consecutive blocks of `block` samples a side (blocks cover the same stretch of time on both
 * sides, since the jobs alternate).
 */
export function paired(a: Samples, b: Samples, p: 50 | 90 | 99, block: number): PairedFigure {
  const pick = (s: Samples) => {
    const sum = summarize(s);
    return p === 50 ? sum.p50 : p === 90 ? sum.p90 : sum.p99;
  };
  const blockRatios: number[] = [];
  const n = Math.min(a.length, b.length);
  for (let at = 0; at + block <= n; at += block) {
    const slice = (s: Samples) => Array.from({ length: block }, (_, k) => s[at + k] as number);
    blockRatios.push(pick(slice(b)) / pick(slice(a)));
  }
  blockRatios.sort((x, y) => x - y);
  const pa = pick(a);
  const pb = pick(b);
  return { a: pa, b: pb, ratio: pb / pa, blockRatios };
}
