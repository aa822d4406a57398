import { z } from 'zod';
import { TICKET_RE } from './ids.js';

/** The longest a sleep job may wait, and the longest any job may be given to run. */
export const MAX_JOB_MS = 24 * 60 * 60 * 1000;
export const MAX_ARGS = 256;
export const MAX_ARG_BYTES = 16 * 1024;
export const MAX_ATTEMPTS = 10;
export const DEFAULT_MAX_ATTEMPTS = 3;

export const JOB_TYPES = ['sleep', 'echo', 'exec'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const TERMINAL_STATES = ['done', 'failed', 'cancelled'] as const;
export type TerminalState = (typeof TERMINAL_STATES)[number];
export const CLIENT_STATES = ['queued', 'running', ...TERMINAL_STATES] as const;
export type ClientState = (typeof CLIENT_STATES)[number];

export const TicketSchema = z.string().regex(TICKET_RE, 'not a ticket');
export const NodeIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'node ids are 1-64 of A-Z a-z 0-9 . _ -');

const SleepMs = z.coerce
  .number()
  .int('sleep takes whole milliseconds')
  .min(0, 'sleep takes a non-negative number of milliseconds')
  .max(MAX_JOB_MS, `sleep is limited to ${MAX_JOB_MS} ms`);

/**
 * What a client asks to run. Validated once at the edge (the client line, or the JSON of
 * SUBMIT), and again on every cluster frame, so a bad job can never reach an executor.
 */
export const JobSpecSchema = z
  .object({
    type: z.enum(JOB_TYPES),
    args: z.array(z.string().max(MAX_ARG_BYTES)).max(MAX_ARGS).default([]),
    priority: z.number().int().min(-1000).max(1000).default(0),
    timeoutMs: z.number().int().min(1).max(MAX_JOB_MS).optional(),
    maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS).default(DEFAULT_MAX_ATTEMPTS),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.type === 'sleep') {
      const ms = SleepMs.safeParse(spec.args[0] ?? '');
      if (spec.args.length !== 1 || spec.args[0] === '' || !ms.success) {
        ctx.addIssue({
          code: 'custom',
          path: ['args'],
          message: ms.success
            ? 'sleep takes exactly one argument: milliseconds'
            : (ms.error.issues[0]?.message ?? 'bad milliseconds'),
        });
      }
    } else if (spec.type === 'exec' && (spec.args[0] ?? '') === '') {
      ctx.addIssue({ code: 'custom', path: ['args'], message: 'exec needs a program' });
    }
  });

export type JobSpec = z.infer<typeof JobSpecSchema>;

/** The outcome of one run of a job, as the executing node records it. */
export const ResultSchema = z
  .object({
    id: TicketSchema,
    state: z.enum(TERMINAL_STATES),
    exitCode: z.number().int().nullable(),
    output: z.string(),
    error: z.string().nullable(),
    node: NodeIdSchema.nullable(),
    attempt: z
      .number()
      .int()
      .min(0)
      .max(MAX_ATTEMPTS + 1),
    startedAt: z.number().int().nullable(),
    finishedAt: z.number().int(),
  })
  .strict();

export type JobResult = z.infer<typeof ResultSchema>;

/** What a client sees of a ticket: RESULT and WAIT replies, and cross-node lookups. */
export const JobViewSchema = z
  .object({
    ticket: TicketSchema,
    state: z.enum(CLIENT_STATES),
    exitCode: z.number().int().nullable().optional(),
    output: z.string().optional(),
    error: z.string().nullable().optional(),
    node: NodeIdSchema.nullable().optional(),
    attempts: z.number().int().min(0),
    submittedAt: z.number().int(),
    startedAt: z.number().int().nullable().optional(),
    finishedAt: z.number().int().nullable().optional(),
    /** Kept for the seed dialect's "for N milliseconds" reply. */
    type: z.enum(JOB_TYPES).optional(),
    args: z.array(z.string()).optional(),
  })
  .strict();

export type JobView = z.infer<typeof JobViewSchema>;

export function isTerminal(state: string): state is TerminalState {
  return state === 'done' || state === 'failed' || state === 'cancelled';
}

/** The client JSON of a view: fields known so far, times as ISO-8601. */
export function viewToClientJson(v: JobView): string {
  const out: Record<string, unknown> = { ticket: v.ticket, state: v.state };
  if (v.exitCode !== undefined && v.exitCode !== null) out.exitCode = v.exitCode;
  if (v.output !== undefined && isTerminal(v.state)) out.output = v.output;
  if (v.error) out.error = v.error;
  if (v.node) out.node = v.node;
  out.attempts = v.attempts;
  out.submittedAt = new Date(v.submittedAt).toISOString();
  if (v.startedAt) out.startedAt = new Date(v.startedAt).toISOString();
  if (v.finishedAt) out.finishedAt = new Date(v.finishedAt).toISOString();
  return JSON.stringify(out);
}
