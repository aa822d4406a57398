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
    `{"id":${JSON.stringify(j.id)},"spec":${spec},"origin":${JSON.stringify(j.origin)},` +
    `"submittedAt":${j.submittedAt}`;
  if (extras.attempt !== undefined) text += `,"attempt":${extras.attempt}`;
  if (extras.result !== undefined) text += `,"result":${extras.result}`;
  if (extras.startedHere !== undefined) text += `,"startedHere":${extras.startedHere}`;
  return `${text}}`;
}
