import { TICKET_RE } from './ids.js';
import {
  MAX_ARG_BYTES,
  MAX_ARGS,
  MAX_ATTEMPTS,
  MAX_JOB_MS,
  MAX_RUN_NUMBER,
  CLIENT_STATES,
  NODE_ID_RE,
  TENANT_RE,
  TERMINAL_STATES,
  TYPE_NAME_RE,
} from './job.js';
import { MAX_RUN_VIEWS } from './job-view.js';
import { MAX_BATCH } from './protocol.js';

/**
 * The frames of every job's path (ACK, RESULT, INFO, and JOB of plain specs) checked by hand:
 * the same rules as their zod schemas in `protocol.ts`, in a fraction of the time, because a
 * proxy reads several of them per job. A frame is accepted here only in the common shape; any
 * other field or form (a spec with `tasks`, a number among `args`, a sleep job...) answers undefined and the schema decides, so this never accepts what the schema
 * refuses nor changes what it accepts (`fast-frames.test.ts` holds the two side by side).
 * The raw object is returned as the parsed frame: JSON.parse made it, nobody else holds it.
 */

type Raw = Record<string, unknown>;
type Check = (v: unknown) => boolean;

const STATES: ReadonlySet<unknown> = new Set(TERMINAL_STATES);

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const intIn = (v: unknown, min: number, max: number) => isInt(v) && v >= min && v <= max;
const isTicket = (v: unknown) => typeof v === 'string' && TICKET_RE.test(v);
const isNodeId = (v: unknown) => typeof v === 'string' && NODE_ID_RE.test(v);
const intOrNull = (v: unknown) => v === null || isInt(v);
const strOrNull = (v: unknown) => v === null || typeof v === 'string';

/** A shape: a check for each key it may have, and the keys it must have. */
interface Shape {
  readonly checks: ReadonlyMap<string, Check>;
  readonly required: ReadonlySet<string>;
}
/** Maps, not objects, so that no key is looked up on Object.prototype (`__proto__`...). */
const shape = (checks: Record<string, Check>, required: readonly string[]): Shape => ({
  checks: new Map(Object.entries(checks)),
  required: new Set(required),
});

/** Every key of `o` is known and passes its check, and every required key is there. */
function fields(o: Raw, s: Shape): boolean {
  let required = 0;
  for (const k in o) {
    const check = s.checks.get(k);
    if (check === undefined || !check(o[k])) return false;
    if (s.required.has(k)) required++;
  }
  return required === s.required.size;
}

function listOf(v: unknown, item: Check, min = 0): boolean {
  if (!Array.isArray(v) || v.length < min || v.length > MAX_BATCH) return false;
  for (const x of v) if (!item(x)) return false;
  return true;
}

const CLIENT: ReadonlySet<unknown> = new Set(CLIENT_STATES);

/** One entry of a result's `runs` (a result decided at the origin lists its run). */
const RUN = shape(
  {
    ticket: isTicket,
    state: (v) => CLIENT.has(v),
    node: (v) => v === null || isNodeId(v),
    attempt: (v) => intIn(v, 0, MAX_RUN_NUMBER),
    exitCode: intOrNull,
    error: strOrNull,
    startedAt: intOrNull,
    finishedAt: intOrNull,
  },
  [],
);
const isRun = (v: unknown) => isObject(v) && fields(v, RUN);

const RESULT = shape(
  {
    id: isTicket,
    state: (v) => STATES.has(v),
    exitCode: intOrNull,
    output: (v) => typeof v === 'string',
    error: strOrNull,
    node: (v) => v === null || isNodeId(v),
    attempt: (v) => intIn(v, 0, MAX_RUN_NUMBER),
    startedAt: intOrNull,
    finishedAt: isInt,
    runs: (v) => Array.isArray(v) && v.length <= MAX_RUN_VIEWS && v.every(isRun),
  },
  ['id', 'state', 'exitCode', 'output', 'error', 'node', 'attempt', 'startedAt', 'finishedAt'],
);
function isResult(v: unknown): boolean {
  return isObject(v) && fields(v, RESULT);
}

const STARTED = shape({ id: isTicket, at: isInt }, ['id', 'at']);
const isStarted = (v: unknown) => isObject(v) && fields(v, STARTED);

/** A plain spec: one run of echo, exec or a custom type, string args, no other options. */
const SPEC = shape(
  {
    type: (v) => typeof v === 'string' && v !== 'sleep' && TYPE_NAME_RE.test(v),
    args: (v) =>
      Array.isArray(v) &&
      v.length <= MAX_ARGS &&
      v.every((a) => typeof a === 'string' && a.length <= MAX_ARG_BYTES),
    priority: (v) => intIn(v, -1000, 1000),
    maxAttempts: (v) => intIn(v, 1, MAX_ATTEMPTS),
    timeoutMs: (v) => intIn(v, 1, MAX_JOB_MS),
    tenant: (v) => typeof v === 'string' && TENANT_RE.test(v),
  },
  ['type', 'args', 'priority', 'maxAttempts'],
);
function isPlainSpec(v: unknown): boolean {
  if (!isObject(v) || !fields(v, SPEC)) return false;
  // exec needs a program
  return v.type !== 'exec' || ((v.args as string[])[0] ?? '') !== '';
}

const WIRE_JOB = shape(
  {
    id: isTicket,
    spec: isPlainSpec,
    origin: isNodeId,
    submittedAt: isInt,
    attempt: (v) => isInt(v) && v >= 1,
    // forwards of jobs started at their origin (LOCAL_START): the placement, then the result
    startedHere: (v) => v === true,
    result: isResult,
  },
  ['id', 'spec', 'origin', 'submittedAt'],
);
const isWireJob = (v: unknown) => isObject(v) && fields(v, WIRE_JOB);

const ids = (v: unknown) => listOf(v, isTicket);
const isType = () => true; // the frame was found by it

/** Each hot frame's shape, and the lists its schema fills in when the frame leaves them out. */
const FRAMES: ReadonlyMap<string, { shape: Shape; defaults: readonly string[] }> = new Map([
  [
    'ACK',
    {
      shape: shape({ type: isType, jobs: ids, results: ids, reopened: ids }, ['type']),
      defaults: ['jobs', 'results', 'reopened'],
    },
  ],
  [
    'RESULT',
    {
      shape: shape({ type: isType, results: (v) => listOf(v, isResult, 1) }, ['type', 'results']),
      defaults: [],
    },
  ],
  [
    'INFO',
    {
      shape: shape(
        {
          type: isType,
          queued: (v) => isInt(v) && v >= 0,
          running: (v) => isInt(v) && v >= 0,
          free: isInt,
          draining: (v) => typeof v === 'boolean',
          started: (v) => listOf(v, isStarted),
        },
        ['type', 'queued', 'running', 'free'],
      ),
      defaults: ['started'],
    },
  ],
  [
    'JOB',
    {
      shape: shape({ type: isType, jobs: (v) => listOf(v, isWireJob, 1) }, ['type', 'jobs']),
      defaults: [],
    },
  ],
]);

/**
 * The frame `raw` is, when it is one of the hot frames in its common shape; undefined sends it
 * to the schema (which accepts it in a rarer shape, or says what is wrong).
 */
export function fastFrame(raw: unknown): Raw | undefined {
  if (!isObject(raw) || typeof raw.type !== 'string') return undefined;
  const frame = FRAMES.get(raw.type);
  if (!frame || !fields(raw, frame.shape)) return undefined;
  for (const k of frame.defaults) raw[k] ??= [];
  return raw;
}
