/**
 * `new Date(ms).toISOString()`, made cheap for the timestamps a result carries: they come in
 * runs within the same second, so the text up to the second is formatted once per second and
 * only the milliseconds are added (`Date#toISOString` costs microseconds; every result shown
 * to a client formats several of them).
 */

/** Below year 10000: the ISO text has the fixed `YYYY-MM-DDTHH:MM:SS.` prefix. */
const MAX_PLAIN_MS = 253_402_300_800_000;

let cachedSecond = NaN;
let cachedPrefix = '';

/** The ISO 8601 text of epoch milliseconds `ms`, exactly as `Date#toISOString` gives it. */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= MAX_PLAIN_MS) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    cachedSecond = second;
  }
  const milli = ms - second * 1000;
  return `${cachedPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
