import { Cron } from 'croner';
import { z } from 'zod';
import { TICKET_RE } from './ids.js';

/** The longest a sleep job may wait, and the longest any job may be given to run. */
export const MAX_JOB_MS = 24 * 60 * 60 * 1000;
export const MAX_ARGS = 256;
export const MAX_ARG_BYTES = 16 * 1024;
export const MAX_ATTEMPTS = 10;
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Runs a failing job may have in all (`retry.attempts`). */
export const MAX_RETRY_ATTEMPTS = 20;
export const DEFAULT_BACKOFF_MS = 1000;
export const DEFAULT_MAX_BACKOFF_MS = 60_000;
/** How far ahead `delayMs` / `runAt` may reach: one year. */
export const MAX_DELAY_MS = 366 * 24 * 60 * 60 * 1000;
export const MAX_TASKS = 10_000;
/** A cancelled job's `error`, wherever it was stopped (origin, another node, a worker, queued). */
export const CANCELLED_BY_CLIENT = 'cancelled by a client';
export const MAX_AFTER = 1000;
export const MAX_STDIN_BYTES = 64 * 1024;
export const MAX_ENV_VARS = 256;
export const MAX_KEY_CHARS = 200;
export const DEFAULT_TENANT = 'default';
/** The highest run number a job may reach (RETRY gives a fresh budget but keeps counting). */
export const MAX_RUN_NUMBER = 1_000_000;

/** The job types every node runs itself; any other valid name is served by workers. */
export const BUILTIN_TYPES = ['sleep', 'echo', 'exec'] as const;
export type BuiltinType = (typeof BUILTIN_TYPES)[number];
/** @deprecated name kept for callers of the first wave: the built-in types. */
export const JOB_TYPES = BUILTIN_TYPES;
export type JobType = string;
/** A custom type's name, as a worker registers it. */
export const TYPE_NAME_RE = /^[a-z][a-z0-9._-]{0,63}$/;
export const TENANT_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A node label: `gpu`, `zone=eu`. */
export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._/=:-]{0,63}$/;

export function isBuiltinType(type: string): type is BuiltinType {
  return (BUILTIN_TYPES as readonly string[]).includes(type);
}

export const TERMINAL_STATES = ['done', 'failed', 'cancelled'] as const;
export type TerminalState = (typeof TERMINAL_STATES)[number];
export const CLIENT_STATES = [
  'scheduled',
  'blocked',
  'queued',
  'running',
  ...TERMINAL_STATES,
] as const;
export type ClientState = (typeof CLIENT_STATES)[number];

export const TicketSchema = z.string().regex(TICKET_RE, 'not a ticket');
export const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const NodeIdSchema = z.string().regex(NODE_ID_RE, 'node ids are 1-64 of A-Z a-z 0-9 . _ -');

const SleepMs = z.coerce
  .number()
  .int('sleep takes whole milliseconds')
  .min(0, 'sleep takes a non-negative number of milliseconds')
  .max(MAX_JOB_MS, `sleep is limited to ${MAX_JOB_MS} ms`);

/** An argument: a string, or a number taken as its decimal text. */
const ArgSchema = z
  .union([z.string().max(MAX_ARG_BYTES), z.number().finite()])
  .transform((v) => (typeof v === 'number' ? String(v) : v));

export const TypeSchema = z
  .string()
  .regex(TYPE_NAME_RE, 'a job type is a name of [a-z][a-z0-9._-], at most 64 characters');

/** What one run executes: the part of a spec a job's tasks have each of their own. */
const runFields = {
  type: TypeSchema,
  args: z.array(ArgSchema).max(MAX_ARGS).default([]),
  timeoutMs: z.number().int().min(1).max(MAX_JOB_MS).optional(),
  env: z
    .record(z.string(), z.string().max(MAX_ARG_BYTES))
    .superRefine((env, ctx) => {
      const names = Object.keys(env);
      const bad = names.find((n) => !ENV_NAME_RE.test(n));
      if (bad !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `environment names are [A-Za-z_][A-Za-z0-9_]*, not ${bad.slice(0, 40)}`,
        });
      }
      if (names.length > MAX_ENV_VARS) {
        ctx.addIssue({ code: 'custom', message: `at most ${MAX_ENV_VARS} variables` });
      }
    })
    .optional(),
  cwd: z
    .string()
    .min(1)
    .max(4096)
    .refine((s) => s.startsWith('/'), 'cwd is an absolute path')
    .optional(),
  stdin: z
    .string()
    .refine((s) => Buffer.byteLength(s) <= MAX_STDIN_BYTES, 'stdin is limited to 64 KiB')
    .optional(),
};

export const TaskSpecSchema = z.object(runFields).strict();
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

export const RetrySchema = z
  .object({
    attempts: z.number().int().min(1).max(MAX_RETRY_ATTEMPTS).default(1),
    backoffMs: z.number().int().min(0).max(MAX_JOB_MS).default(DEFAULT_BACKOFF_MS),
    maxBackoffMs: z.number().int().min(0).max(MAX_JOB_MS).default(DEFAULT_MAX_BACKOFF_MS),
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetrySchema>;

export const ConstraintsSchema = z
  .object({
    labels: z
      .array(z.string().regex(LABEL_RE, 'labels are 1-64 of A-Z a-z 0-9 . _ / = : -'))
      .max(32)
      .default([]),
  })
  .strict();

export const ResourcesSchema = z
  .object({
    cpu: z.number().positive().max(4096).optional(),
    memMb: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024 * 1024)
      .optional(),
  })
  .strict();
export type Resources = z.infer<typeof ResourcesSchema>;

/**
 * ISO-8601 as a client writes a time to run at: a date (midnight UTC), or a date and a time
 * with its zone (`Z` or an offset), since the nodes of a cluster need not share a zone.
 */
const ISO_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

/** Epoch milliseconds of an ISO-8601 time as ISO_TIME_RE takes it; null if it is not one. */
function isoTimeMs(text: string): number | null {
  const m = ISO_TIME_RE.exec(text);
  if (!m) return null;
  const [month, day] = [Number(m[2]) - 1, Number(m[3])];
  const date = new Date(Date.UTC(2000, month, day)); // a leap year: 02-29 is a date
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** `runAt`: ISO-8601 text or epoch milliseconds; kept as epoch milliseconds. */
const RunAtSchema = z.union([z.number(), z.string().max(64)]).transform((v, ctx) => {
  const t = typeof v === 'number' ? v : isoTimeMs(v);
  if (t === null || !Number.isSafeInteger(t) || t < 0) {
    ctx.addIssue({
      code: 'custom',
      message:
        'runAt is an ISO-8601 time with its zone (2030-01-01T09:00:00Z, ' +
        '2030-01-01T10:00:00+01:00), a date (midnight UTC), or epoch milliseconds',
    });
    return z.NEVER;
  }
  return t;
});

/**
 * Why a client's spec asks for a time too far ahead (`runAt` more than MAX_DELAY_MS after
 * `now`), or null. Checked where a client's job comes in, not on every frame: a job accepted
 * at its edge stays valid wherever it travels, whatever the clocks there say.
 */
export function runAtProblem(spec: Pick<JobSpec, 'runAt'>, now: number): string | null {
  if (spec.runAt === undefined || spec.runAt - now <= MAX_DELAY_MS) return null;
  const latest = new Date(now + MAX_DELAY_MS).toISOString();
  return `at most a year ahead (${MAX_DELAY_MS} ms): ${latest} at the latest`;
}

type RunFields = { type?: string; args: string[]; env?: unknown; cwd?: unknown; stdin?: unknown };

/** The rules of one run's fields that depend on its type. */
function checkRun(run: RunFields, path: (string | number)[], ctx: z.RefinementCtx): void {
  const add = (message: string, field: string) =>
    ctx.addIssue({ code: 'custom', path: [...path, field], message });
  if (run.type === 'sleep') {
    const ms = SleepMs.safeParse(run.args[0] ?? '');
    if (run.args.length !== 1 || run.args[0] === '' || !ms.success) {
      add(
        ms.success
          ? 'sleep takes exactly one argument: milliseconds'
          : (ms.error.issues[0]?.message ?? 'bad milliseconds'),
        'args',
      );
    }
  } else if (run.type === 'exec' && (run.args[0] ?? '') === '') {
    add('exec needs a program', 'args');
  }
  if (run.type === 'sleep' || run.type === 'echo') {
    for (const f of ['env', 'cwd', 'stdin'] as const) {
      if (run[f] !== undefined) add(`${f} applies to exec and worker types, not ${run.type}`, f);
    }
  } else if (run.type !== 'exec' && run.cwd !== undefined) {
    add('cwd applies to exec only', 'cwd');
  }
}

/** Whether `tz` names a time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why a cron expression is refused, or null: five fields that croner accepts. */
export function cronProblem(expr: string, tz?: string): string | null {
  if (expr.trim().split(/\s+/).length !== 5) {
    return 'cron takes 5 fields: minute hour day-of-month month day-of-week';
  }
  try {
    new Cron(expr, { paused: true, timezone: tz });
    return null;
  } catch (err) {
    return `bad cron expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * Why a valid cron expression is refused for a new schedule, or null: one that names no date
 * that exists (`0 0 30 2 *`, February 30th) would never fire. Checked where a client's job
 * comes in, not on every frame, as `runAtProblem` is.
 */
export function cronNeverFires(expr: string, tz?: string): string | null {
  try {
    if (new Cron(expr, { paused: true, timezone: tz }).nextRun() !== null) return null;
  } catch {
    return null; // a bad expression is cronProblem's to word
  }
  return `${expr} never fires: no date matches it`;
}

/**
 * What a client asks to run: one spec for the line protocol, HTTP, the library and every
 * cluster frame. Validated once at the edge and again on every frame, so a bad job never
 * reaches an executor. Either `type` (one run) or `tasks` (a job of many tasks).
 */
export const JobSpecSchema = z
  .object({
    ...runFields,
    type: TypeSchema.optional(),
    priority: z.number().int().min(-1000).max(1000).default(0),
    /** Runs that may be lost with their node. */
    maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS).default(DEFAULT_MAX_ATTEMPTS),
    /** Runs that may fail. */
    retry: RetrySchema.optional(),
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(MAX_DELAY_MS, `at most a year ahead (${MAX_DELAY_MS} ms)`)
      .optional(),
    runAt: RunAtSchema.optional(),
    cron: z.string().min(1).max(200).optional(),
    tz: z.string().min(1).max(64).optional(),
    key: z.string().min(1).max(MAX_KEY_CHARS).optional(),
    after: z.array(TicketSchema).min(1).max(MAX_AFTER).optional(),
    tasks: z.array(TaskSpecSchema).min(1).max(MAX_TASKS).optional(),
    speculate: z.boolean().optional(),
    /** With `tasks`: at most this many of them queued for nodes or running at once. */
    concurrency: z.number().int().min(1).max(MAX_TASKS).optional(),
    constraints: ConstraintsSchema.optional(),
    resources: ResourcesSchema.optional(),
    tenant: z.string().regex(TENANT_RE, 'a tenant is 1-64 of A-Z a-z 0-9 . _ -').optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const add = (message: string, path: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if (spec.tasks) {
      if (spec.type !== undefined) add('a job has either type or tasks, not both', 'type');
      for (const f of ['env', 'cwd', 'stdin', 'timeoutMs'] as const) {
        if (spec[f] !== undefined) add(`with tasks, ${f} belongs in each task`, f);
      }
      if (spec.args.length) add('with tasks, args belong in each task', 'args');
      spec.tasks.forEach((task, i) => checkRun(task, ['tasks', i], ctx));
    } else if (spec.type === undefined) {
      add('a job needs a type (or tasks)', 'type');
    } else {
      checkRun(spec, [], ctx);
      if (spec.speculate) add('speculate applies to a job with tasks', 'speculate');
      if (spec.concurrency !== undefined) {
        add('concurrency applies to a job with tasks', 'concurrency');
      }
    }
    if (spec.delayMs !== undefined && spec.runAt !== undefined) {
      add('give delayMs or runAt, not both', 'runAt');
    }
    if (spec.cron !== undefined) {
      const why = cronProblem(spec.cron, spec.tz);
      if (why) add(why, 'cron');
      if (spec.delayMs !== undefined || spec.runAt !== undefined) {
        add('a schedule (cron) fires at its own times: no delayMs or runAt', 'cron');
      }
      if (spec.after !== undefined) add('a schedule (cron) cannot wait for other jobs', 'after');
      if (spec.key !== undefined) add('a schedule (cron) takes no key: its ticket names it', 'key');
    }
    if (spec.tz !== undefined) {
      if (spec.cron === undefined) add('tz applies to cron', 'tz');
      else if (!isTimeZone(spec.tz)) add(`unknown time zone ${spec.tz}`, 'tz');
    }
  });

export type JobSpec = z.infer<typeof JobSpecSchema>;
/** A spec as a caller writes it (defaults may be left out, numbers allowed in args). */
export type JobSpecInput = z.input<typeof JobSpecSchema>;

/** The policy of a job without `retry`, parsed once (every job asks for it). */
const NO_RETRY: RetryPolicy = Object.freeze(RetrySchema.parse({}));

/** The retry policy of a spec, defaults filled in (one run, no retry, when absent). */
export function retryOf(spec: Pick<JobSpec, 'retry'>): RetryPolicy {
  return spec.retry ?? NO_RETRY;
}

/** The tenant a spec's work is charged to. */
export function tenantOf(spec: Pick<JobSpec, 'tenant'>): string {
  return spec.tenant ?? DEFAULT_TENANT;
}

/** When a job was asked to run first: its `runAt`, or `delayMs` after it was submitted. */
export function requestedRunAt(
  spec: Pick<JobSpec, 'runAt' | 'delayMs'>,
  submittedAt: number,
): number | undefined {
  if (spec.runAt !== undefined) return spec.runAt;
  if (spec.delayMs !== undefined) return submittedAt + spec.delayMs;
  return undefined;
}

export function isTerminal(state: string): state is TerminalState {
  return state === 'done' || state === 'failed' || state === 'cancelled';
}
