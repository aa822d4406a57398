import { Cron } from 'croner';

/**
 * When a schedule fires: plain functions of a cron expression, a time zone and the clock, so
 * the rules are tested with a fake clock. Schedules keep their next due time, never an
 * interval, so a restarted proxy picks up exactly where the stored time says.
 */

/** The first due time of `cron` strictly after `after` (epoch ms); null when there is none. */
export function nextDue(cron: string, tz: string | undefined, after: number): number | null {
  const next = new Cron(cron, { paused: true, timezone: tz }).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

export interface Firing {
  /** The due time this firing is for (it may be in the past: a late firing). */
  dueAt: number;
  /** The due time to store next: the first one after `now`, so missed ones are skipped. */
  next: number | null;
}

/**
 * Whether a schedule whose stored next due time is `due` fires at `now`. However many due
 * times passed while nobody was watching (the proxy was down), it fires once, for the
 * earliest, and its next due time is the first one after `now`.
 */
export function firingAt(
  cron: string,
  tz: string | undefined,
  due: number | null,
  now: number,
): Firing | null {
  if (due === null || due > now) return null;
  return { dueAt: due, next: nextDue(cron, tz, now) };
}
