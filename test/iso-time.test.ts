import t from 'tap';
import { isoTime } from '../shared/iso-time.js';

t.test('gives exactly what Date#toISOString gives', async (t) => {
  const now = Date.UTC(2026, 10, 30, 9, 59, 59, 998);
  const samples = [0, 1, 999, 1000, 1001, now, now + 1, now + 2, now + 1000, now - 86_400_000];
  // the same second again after another one (the cached text must follow)
  samples.push(now, now + 5000, now);
  // outside the plain range: before 1970, from year 10000 on, not whole milliseconds
  samples.push(-1, -86_400_001, 253_402_300_800_000, 8.64e15, 1.5);
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 48271) % 2147483647;
    samples.push(Math.floor((seed / 2147483647) * 4e12));
  }
  for (const ms of samples) {
    if (isoTime(ms) !== new Date(ms).toISOString()) {
      t.fail(`${ms}: ${isoTime(ms)} vs ${new Date(ms).toISOString()}`);
    }
  }
  t.equal(isoTime(now), '2026-11-30T09:59:59.998Z');
  t.equal(isoTime(now + 2), '2026-11-30T10:00:00.000Z');
  t.throws(() => isoTime(NaN), RangeError, 'an invalid time throws as Date does');
});
