import { z } from 'zod';
import { WIRE_CODES, type WireCode } from './errors.js';
import { fastFrame } from './fast-frames.js';
import { JobSpecSchema, MAX_TASKS, NodeIdSchema, TicketSchema, TYPE_NAME_RE } from './job.js';
import { JobViewSchema, ResultSchema } from './job-view.js';

/**
 * The cluster protocol between nodes and the proxy: JSON text frames over `ws`, each one of
 * the schemas below. Every list is an array so one frame carries a whole tick's batch.
 */
export const PROTOCOL_VERSION = 1;
/** The largest frame either side accepts (ws maxPayload). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** The most entries one frame's arrays may carry. */
export const MAX_BATCH = 10_000;

const Ids = z.array(TicketSchema).max(MAX_BATCH);
/** The largest incarnation of a proxy's file (WELCOME). */
export const INCARNATION_MAX = 2 ** 48;
/**
 * The request header of a node's connection that lists the optional WELCOME fields it reads
 * (`incarnation`): the schemas are strict, so a node of an earlier release, which sends none,
 * must not be sent them. A proxy of an earlier release ignores the header.
 */
export const READS_HEADER = 'petrel-reads';

/**
 * The leader's epoch (its etcd lease revision) on every frame a proxy of a group sends; a
 * node rejects frames of an epoch older than the newest it has seen. Absent without a group.
 */
const epoch = z.number().int().min(1).optional();

/** WebSocket close code of a proxy that is not the group's leader (the reason names it). */
export const NOT_LEADER_CODE = 4010;
/** WebSocket close code of a node refusing a proxy whose epoch is older than one it has seen. */
export const STALE_EPOCH_CODE = 4011;

/** A job as it crosses the wire: forwarded by its origin, or dispatched by the proxy. */
export const WireJobSchema = z
  .object({
    id: TicketSchema,
    spec: JobSpecSchema,
    origin: NodeIdSchema,
    submittedAt: z.number().int(),
    /** Dispatch only: which attempt this run is (1-based). */
    attempt: z.number().int().min(1).optional(),
    /** Forward only: the origin already ran it itself while the proxy was away. */
    result: ResultSchema.optional(),
    /** Forward only: the origin started it itself at once (LOCAL_START); it runs there. */
    startedHere: z.literal(true).optional(),
  })
  .strict();
export type WireJob = z.infer<typeof WireJobSchema>;

/** What a node holds for the proxy when it (re)joins. */
export const HoldingSchema = z
  .object({
    id: TicketSchema,
    state: z.enum(['queued', 'running', 'finished']),
    /** Which run of the job this copy is (as dispatched). */
    attempt: z.number().int().min(1).optional(),
    /** The job itself, so a proxy that never heard of it (a new leader) can adopt the copy. */
    job: z
      .object({ spec: JobSpecSchema, origin: NodeIdSchema, submittedAt: z.number().int() })
      .strict()
      .optional(),
  })
  .strict();

const TypeName = z.string().regex(TYPE_NAME_RE);
/** The most custom types one frame lists. */
export const MAX_TYPES = 10_000;

/**
 * A custom type a node serves, and its workers' summed concurrency. A capacity of 0 means no
 * worker of that type here now, the same as leaving the type out.
 */
export const WorkerTypeSchema = z
  .object({ type: TypeName, capacity: z.number().int().min(0).max(1_000_000) })
  .strict();
export type WorkerType = z.infer<typeof WorkerTypeSchema>;
const WorkerTypes = z.array(WorkerTypeSchema).max(1024);

export const ChallengeSchema = z
  .object({
    type: z.literal('CHALLENGE'),
    nonce: z.string().regex(/^[0-9a-f]{32,128}$/),
    epoch,
  })
  .strict();
export const HelloSchema = z
  .object({
    type: z.literal('HELLO'),
    version: z.literal(PROTOCOL_VERSION),
    nodeId: NodeIdSchema,
    slots: z.number().int().min(1).max(4096),
    labels: z.array(z.string().max(64)).max(32).default([]),
    /** NODE_CPUS and NODE_MEM_MB: what `resources` may use on this node (absent: no limit). */
    cpus: z.number().positive().max(4096).optional(),
    memMb: z
      .number()
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .optional(),
    /** HMAC-SHA256(CLUSTER_SECRET, nonce + ":" + nodeId), hex; null when no secret is set. */
    proof: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .nullable(),
    holds: z.array(HoldingSchema).max(1_000_000),
    /** The custom types its attached workers serve. */
    workers: WorkerTypes.default([]),
  })
  .strict();
export const WelcomeSchema = z
  .object({
    type: z.literal('WELCOME'),
    /** Copies the node holds that were given to someone else meanwhile: drop them. */
    drop: Ids,
    requestResultPeriod: z.number().int().min(1),
    /** Every custom type ever registered in the cluster (SUBMIT of another is refused). */
    types: z.array(TypeName).max(MAX_TYPES).default([]),
    /**
     * The incarnation of the proxy's file (proxy.db), new with a new file and in every backup
     * copy: a node welcomed with another than last time tells this proxy every open ticket.
     */
    incarnation: z.number().int().min(1).max(INCARNATION_MAX).optional(),
    epoch,
  })
  .strict();
export const InfoSchema = z
  .object({
    type: z.literal('INFO'),
    queued: z.number().int().min(0),
    running: z.number().int().min(0),
    free: z.number().int(),
    /** The node is stopping: it takes no new jobs. */
    draining: z.boolean().optional(),
    /** Jobs that started since the last INFO, with their start time. */
    started: z
      .array(z.object({ id: TicketSchema, at: z.number().int() }).strict())
      .max(MAX_BATCH)
      .default([]),
    /** The custom types its workers serve now (absent: unchanged since the last INFO). */
    workers: WorkerTypes.optional(),
  })
  .strict();
export const JobFrameSchema = z
  .object({
    type: z.literal('JOB'),
    jobs: z.array(WireJobSchema).min(1).max(MAX_BATCH),
    epoch,
  })
  .strict();
export const AckSchema = z
  .object({
    type: z.literal('ACK'),
    jobs: Ids.default([]),
    results: Ids.default([]),
    /** Node → proxy: these tickets are open again at their origin (after REOPEN). */
    reopened: Ids.default([]),
    epoch,
  })
  .strict();
export const ResultFrameSchema = z
  .object({
    type: z.literal('RESULT'),
    results: z.array(ResultSchema).min(1).max(MAX_BATCH),
    epoch,
  })
  .strict();
/**
 * "Tell me about these jobs." From the proxy in the periodic sweep (jobs placed on that node
 * without a result yet); from a node, with `reqId`, to look up tickets it does not hold.
 */
export const RequestOfResSchema = z
  .object({
    type: z.literal('REQUEST_OF_RES'),
    ids: Ids,
    reqId: z.number().int().min(0).optional(),
    epoch,
  })
  .strict();
/** The longest reason a node gives for a lost run. */
export const MAX_LOST_WHY = 300;
/** A run lost on a node, and why (`its worker disconnected`...). */
export const LostRunSchema = z
  .object({ id: TicketSchema, why: z.string().max(MAX_LOST_WHY) })
  .strict();
/** A lost run of a RES_REQ, as either release sends it: its id and reason (if said). */
export function lostRun(l: string | { id: string; why: string }): { id: string; why?: string } {
  return typeof l === 'string' ? { id: l } : l;
}
/**
 * The answer to REQUEST_OF_RES: finished results (acked like RESULT), ids the sender in turn
 * asks for, ids it has never heard of, and, for a lookup, client views.
 */
export const ResReqSchema = z
  .object({
    type: z.literal('RES_REQ'),
    reqId: z.number().int().min(0).optional(),
    results: z.array(ResultSchema).max(MAX_BATCH).default([]),
    requests: Ids.default([]),
    /** From a node: ids it never heard of, or hands back; from the proxy: results expired. */
    missing: Ids.default([]),
    /**
     * Jobs whose run was lost here (a worker left or went silent), each with why: counted as
     * lost runs, the reason shown in the run's `error` (`LOST: <why>`). A bare id is a node of
     * the previous release, which said no reason.
     */
    lost: z
      .array(z.union([TicketSchema, LostRunSchema]))
      .max(MAX_BATCH)
      .default([]),
    views: z.array(JobViewSchema).max(MAX_BATCH).default([]),
    /** A request refused: the code and message the client is to see. */
    error: z
      .object({
        code: z.enum(Object.keys(WIRE_CODES) as [WireCode, ...WireCode[]]),
        message: z.string().max(500),
      })
      .strict()
      .optional(),
    epoch,
  })
  .strict();
/** Proxy → nodes: the custom types the cluster knows, sent whenever one is added. */
export const TypesSchema = z
  .object({ type: z.literal('TYPES'), types: z.array(TypeName).max(MAX_TYPES), epoch })
  .strict();
/**
 * Node → proxy: accept this job only as the proxy decides, for a job with an idempotency `key`
 * or dependencies (`after`). Answered, once committed, by RES_REQ with the view of the ticket
 * the client is to get (the key's existing ticket, or this one), or with an error.
 */
export const ClaimSchema = z
  .object({ type: z.literal('CLAIM'), reqId: z.number().int().min(0), job: WireJobSchema })
  .strict();
/** Node → proxy: run these failed or cancelled jobs again (RETRY); answered by RES_REQ. */
export const RetryFrameSchema = z
  .object({ type: z.literal('RETRY'), reqId: z.number().int().min(0), ids: Ids.min(1) })
  .strict();
/**
 * Proxy → origin: these tickets, final at their origin, run again (RETRY from any node): open
 * them again to wait for their new result. Acked with ACK `reopened` once committed.
 */
export const ReopenSchema = z
  .object({ type: z.literal('REOPEN'), ids: Ids.min(1), epoch })
  .strict();
/** Cancel these jobs; from a node with `reqId` it is answered by RES_REQ views. */
export const CancelSchema = z
  .object({
    type: z.literal('CANCEL'),
    ids: Ids,
    reqId: z.number().int().min(0).optional(),
    epoch,
  })
  .strict();

/** The most output bytes one LOG_DATA frame carries (base64 keeps it far below a frame's limit). */
export const LOG_CHUNK_BYTES = 1024 * 1024;
/** The longest a LOG_READ may wait for new output before it is answered. */
export const MAX_LOG_WAIT_MS = 30_000;

/**
 * "Send me the output of this run from `offset`." A node asks the proxy, naming the node that
 * ran the job; the proxy relays it there under its own `reqId`. With `waitMs`, a live run's
 * log is answered once it grows past `offset` (or its run ends, or the time passes).
 */
export const LogReadSchema = z
  .object({
    type: z.literal('LOG_READ'),
    reqId: z.number().int().min(0),
    ticket: TicketSchema,
    task: z.number().int().min(0).max(MAX_TASKS).optional(),
    node: NodeIdSchema,
    offset: z.number().int().min(0),
    max: z.number().int().min(1).max(LOG_CHUNK_BYTES),
    waitMs: z.number().int().min(0).max(MAX_LOG_WAIT_MS),
    epoch,
  })
  .strict();
/**
 * The answer to LOG_READ: bytes of the log (base64), its size so far, whether the run still
 * writes. `none`: that node holds no output of the run; `unavailable`: that node is not
 * connected to the proxy.
 */
export const LogDataSchema = z
  .object({
    type: z.literal('LOG_DATA'),
    reqId: z.number().int().min(0),
    status: z.enum(['ok', 'none', 'unavailable']),
    offset: z.number().int().min(0),
    data: z.base64().max(Math.ceil(LOG_CHUNK_BYTES / 3) * 4),
    size: z.number().int().min(0),
    live: z.boolean(),
    epoch,
  })
  .strict();

export const FrameSchema = z.discriminatedUnion('type', [
  ChallengeSchema,
  HelloSchema,
  WelcomeSchema,
  InfoSchema,
  JobFrameSchema,
  AckSchema,
  ResultFrameSchema,
  RequestOfResSchema,
  ResReqSchema,
  CancelSchema,
  LogReadSchema,
  LogDataSchema,
  TypesSchema,
  ClaimSchema,
  RetryFrameSchema,
  ReopenSchema,
]);

export type Frame = z.infer<typeof FrameSchema>;
export type FrameOf<T extends Frame['type']> = Extract<Frame, { type: T }>;
/** Frames as the sender builds them: defaulted arrays may be left out. */
export type FrameIn = z.input<typeof FrameSchema>;

export type ParsedFrame = { ok: true; frame: Frame } | { ok: false; reason: string };

/** Parses and validates one text frame. The reason fits a WebSocket close reason (≤ 123 bytes). */
export function parseFrame(data: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, reason: 'frame is not JSON' };
  }
  // the frames of every job's path, in their common shape, are checked by hand (same rules)
  const fast = fastFrame(raw);
  if (fast) return { ok: true, frame: fast as Frame };
  const parsed = FrameSchema.safeParse(raw);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.join('.') || 'frame';
  return {
    ok: false,
    reason: `invalid frame: ${where}: ${issue?.message ?? 'invalid'}`.slice(0, 120),
  };
}

/** The most a WebSocket close reason may hold, in UTF-8 bytes (RFC 6455: 125 less the code). */
const MAX_REASON_BYTES = 123;

/**
 * Cuts `text` to fit a WebSocket close reason, on a character boundary. Reasons may echo what
 * a peer sent (a key name in a zod message), so they are measured in bytes, not characters.
 */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= MAX_REASON_BYTES) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > MAX_REASON_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}
