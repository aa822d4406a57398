import type { JobSpec } from './job.js';

/**
 * A job on the wire (`WireJob`) as JSON text around its spec's JSON, and its result's, made
 * already: a process that stores the same text in its own row encodes it once, not twice.
 * The text is what `JSON.stringify` gives for the same fields in the same order.
 */

/** What a forward or a dispatch says of a job besides its spec and result. */
export interface WireJobHead {
  readonly id: string;
  readonly origin: string;
  readonly submittedAt: number;
}

export interface WireJobExtras {
  /** A dispatch's attempt. */
  readonly attempt?: number;
  /** A result decided at the origin, as JSON. */
  readonly result?: string;
  /** The origin started the job itself (LOCAL_START). */
  readonly startedHere?: boolean;
}

/** `{ id, spec, origin, submittedAt, attempt?, result?, startedHere? }` as JSON. */
export function wireJobJson(j: WireJobHead, spec: string, extras: WireJobExtras = {}): string {
  let text =
    `{"id":${jsonString(j.id)},"spec":${spec},"origin":${jsonString(j.origin)},` +
    `"submittedAt":${jsonNumber(j.submittedAt)}`;
  if (extras.attempt !== undefined) text += `,"attempt":${extras.attempt}`;
  if (extras.result !== undefined) text += `,"result":${extras.result}`;
  if (extras.startedHere !== undefined) text += `,"startedHere":${extras.startedHere}`;
  return `${text}}`;
}

/** Printable ASCII without `"` and `\\`: a string JSON writes as it is, between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `JSON.stringify(s)`: a plain string (an id, a state, a word) is quoted without the scan. */
export function jsonString(s: string): string {
  return s.length < 64 && PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

// the text of the last second seen, as epoch seconds (see `jsonNumber`)
let cachedSecond = NaN;
let cachedSecondText = '';

/**
 * `JSON.stringify(n)` for a number. Epoch milliseconds (a job's times) are written from the
 * text of their second, made once a second, and three digits: V8 formats an integer beyond
 * 2^31 as slowly as any fraction, and a result carries four of them.
 */
export function jsonNumber(n: number): string {
  if (n >= 1e12 && n < 1e15 && Number.isInteger(n)) {
    const second = Math.floor(n / 1000);
    if (second !== cachedSecond) {
      cachedSecond = second;
      cachedSecondText = String(second);
    }
    const milli = n - second * 1000;
    return `${cachedSecondText}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}`;
  }
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * `JSON.stringify(spec)`. A plain spec (`SUBMIT <type> [arg ...]`: its type, args, priority
 * and maxAttempts, in that order, nothing else) is written by hand; any other by the walk.
 */
export function specJson(spec: JobSpec): string {
  const keys = Object.keys(spec);
  const { type, args, priority, maxAttempts } = spec;
  if (
    keys.length !== 4 ||
    keys[0] !== 'type' ||
    keys[1] !== 'args' ||
    keys[2] !== 'priority' ||
    keys[3] !== 'maxAttempts' ||
    typeof type !== 'string' ||
    !Array.isArray(args) ||
    typeof priority !== 'number' ||
    typeof maxAttempts !== 'number'
  ) {
    return JSON.stringify(spec);
  }
  let list = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a !== 'string') return JSON.stringify(spec);
    list += i === 0 ? jsonString(a) : `,${jsonString(a)}`;
  }
  return (
    `{"type":${jsonString(type)},"args":[${list}],"priority":${jsonNumber(priority)},` +
    `"maxAttempts":${jsonNumber(maxAttempts)}}`
  );
}
