import { TICKET_RE } from './ids.js';
import {
  MAX_ARG_BYTES,
  MAX_ARGS,
  MAX_ATTEMPTS,
  MAX_JOB_MS,
  MAX_RUN_NUMBER,
  NODE_ID_RE,
  TENANT_RE,
  TERMINAL_STATES,
  TYPE_NAME_RE,
} from './job.js';
import { MAX_BATCH } from './protocol.js';

/**
 * The frames of every job's path (ACK, RESULT, INFO, and JOB of plain specs) checked by hand:
 * the same rules as their zod schemas in `protocol.ts`, in a fraction of the time, because a
 * proxy reads several of them per job. A frame is accepted here only in the common shape; any
 * other field or form (a `runs` list, a spec with `tasks`, a number among `args`, a sleep
 * job...) answers undefined and the schema decides, so this never accepts what the schema
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

/** Every key of `o` is known and passes its check; `required` keys are present. */
function fields(o: Raw, checks: Readonly<Record<string, Check>>, required: readonly string[]) {
  for (const k of required) if (!Object.hasOwn(o, k)) return false;
  for (const k in o) {
    // own keys only: a key named like an Object.prototype member is no field of ours
    const check = Object.hasOwn(checks, k) ? checks[k] : undefined;
    if (!check || !check(o[k])) return false;
  }
  return true;
}

function listOf(v: unknown, item: Check, min = 0): boolean {
  if (!Array.isArray(v) || v.length < min || v.length > MAX_BATCH) return false;
  for (const x of v) if (!item(x)) return false;
  return true;
}

const RESULT: Readonly<Record<string, Check>> = {
  id: isTicket,
  state: (v) => STATES.has(v),
  exitCode: intOrNull,
  output: (v) => typeof v === 'string',
  error: strOrNull,
  node: (v) => v === null || isNodeId(v),
  attempt: (v) => intIn(v, 0, MAX_RUN_NUMBER),
  startedAt: intOrNull,
  finishedAt: isInt,
};
const RESULT_KEYS = Object.keys(RESULT);
const isResult = (v: unknown) => isObject(v) && fields(v, RESULT, RESULT_KEYS);

const STARTED: Readonly<Record<string, Check>> = { id: isTicket, at: isInt };
const isStarted = (v: unknown) => isObject(v) && fields(v, STARTED, ['id', 'at']);

/** A plain spec: one run of echo, exec or a custom type, string args, no other options. */
const SPEC: Readonly<Record<string, Check>> = {
  type: (v) => typeof v === 'string' && v !== 'sleep' && TYPE_NAME_RE.test(v),
  args: (v) =>
    Array.isArray(v) &&
    v.length <= MAX_ARGS &&
    v.every((a) => typeof a === 'string' && a.length <= MAX_ARG_BYTES),
  priority: (v) => intIn(v, -1000, 1000),
  maxAttempts: (v) => intIn(v, 1, MAX_ATTEMPTS),
  timeoutMs: (v) => intIn(v, 1, MAX_JOB_MS),
  tenant: (v) => typeof v === 'string' && TENANT_RE.test(v),
};
const SPEC_KEYS = ['type', 'args', 'priority', 'maxAttempts'];
function isPlainSpec(v: unknown): boolean {
  if (!isObject(v) || !fields(v, SPEC, SPEC_KEYS)) return false;
  // exec needs a program
  return v.type !== 'exec' || ((v.args as string[])[0] ?? '') !== '';
}

const WIRE_JOB: Readonly<Record<string, Check>> = {
  id: isTicket,
  spec: isPlainSpec,
  origin: isNodeId,
  submittedAt: isInt,
  attempt: (v) => isInt(v) && v >= 1,
};
const isWireJob = (v: unknown) =>
  isObject(v) && fields(v, WIRE_JOB, ['id', 'spec', 'origin', 'submittedAt']);

const ids = (v: unknown) => listOf(v, isTicket);

const FRAMES: Readonly<Record<string, readonly [Record<string, Check>, string[]]>> = {
  ACK: [{ type: () => true, jobs: ids, results: ids, reopened: ids }, []],
  RESULT: [{ type: () => true, results: (v) => listOf(v, isResult, 1) }, ['results']],
  INFO: [
    {
      type: () => true,
      queued: (v) => isInt(v) && v >= 0,
      running: (v) => isInt(v) && v >= 0,
      free: isInt,
      draining: (v) => typeof v === 'boolean',
      started: (v) => listOf(v, isStarted),
    },
    ['queued', 'running', 'free'],
  ],
  JOB: [{ type: () => true, jobs: (v) => listOf(v, isWireJob, 1) }, ['jobs']],
};

/** Lists a schema fills in when a frame leaves them out. */
const DEFAULTS: Readonly<Record<string, readonly string[]>> = {
  ACK: ['jobs', 'results', 'reopened'],
  INFO: ['started'],
};

/**
 * The frame `raw` is, when it is one of the hot frames in its common shape; undefined sends it
 * to the schema (which accepts it in a rarer shape, or says what is wrong).
 */
export function fastFrame(raw: unknown): Raw | undefined {
  if (!isObject(raw) || typeof raw.type !== 'string') return undefined;
  const shape = Object.hasOwn(FRAMES, raw.type) ? FRAMES[raw.type] : undefined;
  if (!shape || !fields(raw, shape[0], shape[1])) return undefined;
  for (const k of Object.hasOwn(DEFAULTS, raw.type) ? (DEFAULTS[raw.type] ?? []) : []) {
    raw[k] ??= [];
  }
  return raw;
}
