import { availableParallelism, totalmem } from 'node:os';
import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';
import { PetrelError } from './errors.js';
import { LABEL_RE, NodeIdSchema, TENANT_RE } from './job.js';
import { checkReadableFiles } from './startup.js';
import { checkTlsFiles } from './tls-files.js';

/**
 * Configuration: the environment (with `.env` read by dotenv underneath it), validated once
 * by zod, every problem reported together, then frozen. Nothing else reads `process.env`.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Only a decimal number's text (`1500`, `-1`, `0.5`, spaces around it allowed) is coerced:
 * `0x10`, `1e3`, `Infinity` and a value of only spaces (which `Number` reads as 0) are refused.
 */
const decimal = (v: unknown) =>
  typeof v === 'string' ? (/^\s*[+-]?\d+(\.\d+)?\s*$/.test(v) ? v.trim() : 'NaN') : v;
const number = <T extends z.ZodType>(inner: T) => z.preprocess(decimal, inner);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  number(
    z.coerce
      .number({ message: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );
const port = int(0, 65535);
/** A timer's period or timeout: Node runs one longer than 2^31-1 ms after 1 ms instead. */
const duration = (min: number) => int(min, 2_147_483_647);
/**
 * One of `values`, in any letter case (`LOG_LEVEL=INFO`), read as its documented spelling;
 * anything else is refused with the list of what is allowed.
 */
function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  message = `must be one of ${values.join(', ')} (any letter case)`,
) {
  const canonical = (v: unknown) => {
    if (typeof v !== 'string') return v;
    const lower = v.trim().toLowerCase();
    return values.find((x) => x.toLowerCase() === lower) ?? v;
  };
  return z.preprocess(canonical, z.enum(values, { message }));
}
/** A comma list's items, trimmed, empty ones left out. */
export function splitList(s: string): string[] {
  return s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}
/** Whether `u` is a URL of one of these schemes that parses (a port above 65535 does not). */
function urlOf(u: string, schemes: RegExp): boolean {
  return schemes.test(u) && !/\s/.test(u) && URL.canParse(u) && new URL(u).hostname !== '';
}
const optionalText = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s === '' ? undefined : s));

/**
 * A path (DATA_DIR, the TLS files): whitespace at either end is refused, not trimmed, as a
 * number's is: `DATA_DIR=" "` or `"data "` is nearly always a slip in a .env file, and would
 * make a directory of that name. Empty is unset, as for every variable.
 */
const optionalPath = optionalText.superRefine((s, ctx) => {
  if (s === undefined || s.trim() === s) return;
  ctx.addIssue({
    code: 'custom',
    message:
      s.trim() === ''
        ? 'is only whitespace: leave it empty to unset it'
        : 'a path must not begin or end with whitespace',
  });
});

const common = {
  DATA_DIR: optionalPath,
  DURABILITY: oneOf(['fsync', 'relaxed']).default('fsync'),
  CLUSTER_SECRET: optionalText,
  LOG_LEVEL: oneOf(LOG_LEVELS).default('info'),
  RESULT_TTL: int(1).default(604_800_000),
  TLS_CERT: optionalPath,
  TLS_KEY: optionalPath,
  /** Extra CA certificate (PEM file) to trust for the other side's TLS certificate. */
  TLS_CA: optionalPath,
};

/** `TENANT_WEIGHTS`: `name=weight,...`, each weight above 0. */
const TenantWeights = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const out = new Map<string, number>();
    for (const part of text.split(',')) {
      const entry = part.trim();
      if (entry === '') continue;
      const [name = '', weight = ''] = entry.split('=');
      const w = Number(weight);
      if (!TENANT_RE.test(name) || !/^\d+(\.\d+)?$/.test(weight) || !(w > 0)) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not tenant=weight (weight > 0)` });
        return z.NEVER;
      }
      out.set(name, w);
    }
    return out as ReadonlyMap<string, number>;
  });

/** `NODE_LABELS`: a comma list of labels (`gpu`, `zone=eu`). */
const Labels = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const labels = [...new Set(text.split(',').map((l) => l.trim()))].filter(Boolean);
    const bad = labels.find((l) => !LABEL_RE.test(l));
    if (bad !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${bad}" is not a label (A-Z a-z 0-9 . _ / = : -)`,
      });
      return z.NEVER;
    }
    if (labels.length > 32) {
      ctx.addIssue({ code: 'custom', message: 'at most 32 labels' });
      return z.NEVER;
    }
    return labels;
  });

export const ProxyConfigSchema = z.object({
  ...common,
  PROXY_HOST: z.string().min(1).default('0.0.0.0'),
  PROXY_PORT: port.default(8080),
  DISPATCH_PERIOD: duration(0).default(0),
  MAX_NUM_JOBS_DISPATCH: int(1).default(30),
  REQUEST_RESULT_PERIOD: duration(10).default(3000),
  MAX_NUM_NODES: int(1, 100_000).default(64),
  NODE_TIMEOUT: duration(50).default(1500),
  /** Failure detection from heartbeat history: phi above this is death; 0: NODE_TIMEOUT only. */
  PHI_THRESHOLD: number(
    z.coerce
      .number({ message: 'must be a number' })
      .min(0, 'must be at least 0')
      .max(50, 'must be at most 50'),
  ).default(8),
  POLICY: oneOf([
    'least-loaded',
    'power-of-two',
    'batch-sampling',
    'round-robin',
    'random',
  ]).default('least-loaded'),
  PREFETCH: int(0, 10_000).default(1),
  TENANT_WEIGHTS: TenantWeights,
  /** Unset: the dashboard shows jobs on the proxy's machine only; set: to whoever sends it. */
  DASHBOARD_TOKEN: optionalText,
  /** etcd client URLs (comma list): set, the proxy joins a group that elects one leader. */
  ETCD_ENDPOINTS: z
    .string()
    .optional()
    .transform((s) => splitList(s ?? ''))
    .pipe(
      z.array(
        z
          .string()
          .refine(
            (u) => urlOf(u, /^https?:\/\//),
            'must be http:// or https:// URLs (host[:port])',
          ),
      ),
    ),
  /** Seconds of the leader's etcd lease: how long a dead leader holds the group. */
  ETCD_LEASE_TTL: int(1, 60).default(2),
  /** The election's name in etcd: groups sharing one etcd use different names. */
  ETCD_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -')
    .default('petrel'),
  /** The URL nodes reach this proxy at, announced while it leads. */
  PROXY_ADVERTISE_URL: z
    .string()
    .refine((u) => !u.includes(',') && urlOf(u, /^wss?:\/\//), 'must be a ws:// or wss:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
});

export const NodeConfigSchema = z.object({
  ...common,
  NODE_ID: NodeIdSchema.optional().or(z.literal('').transform(() => undefined)),
  /** One proxy, or every proxy of a group (comma list): the node follows the leader. */
  PROXY_URL: z
    .string()
    .refine(
      (s) => splitList(s).length > 0 && splitList(s).every((u) => urlOf(u, /^wss?:\/\//)),
      'must be a ws:// or wss:// URL (or a comma list of them)',
    )
    .refine((s) => splitList(s).length <= 16, 'must name at most 16 proxies')
    .default('ws://127.0.0.1:8080/cluster'),
  CLIENT_HOST: z.string().min(1).default('0.0.0.0'),
  CLIENT_PORT: port.default(9000),
  /** The node's HTTP API; `0` (or `off`, as `npm start` also reads it) is off. */
  HTTP_PORT: z
    .preprocess((v) => (typeof v === 'string' && v.trim().toLowerCase() === 'off' ? '0' : v), port)
    .default(0),
  SLOTS: int(1, 4096).default(Math.max(1, availableParallelism())),
  NODE_LABELS: Labels,
  NODE_CPUS: number(
    z.coerce
      .number({ message: 'must be a number' })
      .positive('must be above 0')
      .max(4096, 'must be at most 4096'),
  ).default(Math.max(1, availableParallelism())),
  NODE_MEM_MB: int(1, 16 * 1024 * 1024).default(Math.max(1, Math.floor(totalmem() / 2 ** 20))),
  INFO_PERIOD: duration(10).default(250),
  LOCAL_FALLBACK: duration(0).default(5000),
  /** How long a SUBMIT with a key or `after` waits for the proxy before ERR UNAVAILABLE. */
  CLAIM_WAIT: duration(100).default(10_000),
  /** Whether a plain job starts on the node it was submitted to when a slot is free there. */
  LOCAL_START: oneOf(
    ['0', '1', 'true', 'false', 'on', 'off'],
    'must be 1 or 0 (or true/false, on/off)',
  )
    .default('1')
    .transform((v) => v === '1' || v === 'true' || v === 'on'),
  EXEC_ALLOW: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    ),
  CLIENT_TOKEN: optionalText,
  JOB_OUTPUT_LIMIT: int(0, 64 * 1024 * 1024).default(65536),
  /** Bytes of each run's output kept on disk for LOGS and TAIL. */
  JOB_LOG_LIMIT: int(0, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  MAX_CLIENTS: int(1, 1_000_000).default(1024),
  /** Unfinished jobs submitted through this node that it holds (each in memory): more are BUSY. */
  MAX_OPEN_JOBS: int(1, 100_000_000).default(250_000),
  CLIENT_IDLE_TIMEOUT: duration(0).default(600_000),
  /** How long a stopping node lets running jobs finish before handing them back. */
  DRAIN_TIMEOUT: duration(0).default(8000),
});

export type ProxyConfig = Readonly<z.infer<typeof ProxyConfigSchema> & { DATA_DIR: string }>;
export type NodeConfig = Readonly<
  z.infer<typeof NodeConfigSchema> & {
    DATA_DIR: string;
    /** PROXY_URL's proxies, in the order given. */
    PROXY_URLS: readonly string[];
  }
>;

type Env = Record<string, string | undefined>;

/**
 * `fromArgs`: the variable the program's arguments set and what they were, so a problem with
 * it says where it came from (an operator who typed `petrel-node host 80x` set no PROXY_URL).
 */
function validate<S extends z.ZodType>(
  schema: S,
  raw: Env,
  who: string,
  fromArgs?: { name: string; args: readonly string[] },
): z.infer<S> {
  // `SLOTS=` in a .env file means "not set", as it does for most tools
  const env = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(env);
  const pair = tlsPairProblem(env);
  if (parsed.success && pair === undefined) return parsed.data;
  const issues = parsed.success ? [] : parsed.error.issues;
  const lines = issues.map((i) => {
    // the variable, not the place in its parsed value (`ETCD_ENDPOINTS`, not `ETCD_ENDPOINTS.0`)
    const name = i.path.length > 0 ? String(i.path[0]) : '(environment)';
    const value = env[name];
    const shown = name.includes('SECRET') || name.includes('TOKEN') ? '***' : JSON.stringify(value);
    const source =
      fromArgs?.name === name ? ` (from the arguments ${fromArgs.args.join(' ')})` : '';
    return `${name}=${value === undefined ? '(unset)' : shown}${source}: ${i.message}`;
  });
  if (pair !== undefined) lines.push(pair);
  // one line, so it reads whole in a container's log
  throw new PetrelError(
    'ERR_CONFIG_INVALID',
    `${who}: invalid configuration (${lines.length} problem${lines.length === 1 ? '' : 's'}): ${lines.join('; ')}`,
  );
}

/** TLS_CERT without TLS_KEY (or the other way): told with the other problems, naming the unset one. */
function tlsPairProblem(env: Env): string | undefined {
  if ((env.TLS_CERT === undefined) === (env.TLS_KEY === undefined)) return undefined;
  const unset = env.TLS_CERT === undefined ? 'TLS_CERT' : 'TLS_KEY';
  return `${unset}=(unset): TLS_CERT and TLS_KEY must be set together`;
}

/** Reads `.env` (never overriding the real environment) into a copy of the environment. */
export function environment(base: Env = process.env, dotenvPath?: string): Env {
  const env: Env = { ...base };
  const loaded = loadDotenv({ path: dotenvPath, processEnv: {}, quiet: true });
  for (const [k, v] of Object.entries(loaded.parsed ?? {})) if (env[k] === undefined) env[k] = v;
  return env;
}

/**
 * The proxy's configuration. `petrel-proxy [port]` is the seed's way to give the port.
 */
export function loadProxyConfig(env: Env, argv: readonly string[] = []): ProxyConfig {
  const merged = { ...env };
  if (argv[0] !== undefined) merged.PROXY_PORT = argv[0];
  const fromArgs = argv[0] === undefined ? undefined : { name: 'PROXY_PORT', args: argv };
  const cfg = validate(ProxyConfigSchema, merged, 'petrel-proxy', fromArgs);
  const tls = { TLS_CERT: cfg.TLS_CERT, TLS_KEY: cfg.TLS_KEY, TLS_CA: cfg.TLS_CA };
  checkReadableFiles(tls, 'petrel-proxy');
  checkTlsFiles(tls, 'petrel-proxy');
  return Object.freeze({ ...cfg, DATA_DIR: cfg.DATA_DIR ?? './data/proxy' });
}

/**
 * A node's configuration. `petrel-node [proxyHost] [proxyPort]` is the seed's way to say
 * where the proxy is. DATA_DIR defaults to `./data/node-<NODE_ID or CLIENT_PORT>`.
 */
export function loadNodeConfig(env: Env, argv: readonly string[] = []): NodeConfig {
  const merged = { ...env };
  if (argv[0] !== undefined) {
    const host = argv[0];
    const p = argv[1] ?? '8080';
    merged.PROXY_URL = `ws://${host.includes(':') ? `[${host}]` : host}:${p}/cluster`;
  }
  const fromArgs = argv[0] === undefined ? undefined : { name: 'PROXY_URL', args: argv };
  const cfg = validate(NodeConfigSchema, merged, 'petrel-node', fromArgs);
  const tls = { TLS_CERT: cfg.TLS_CERT, TLS_KEY: cfg.TLS_KEY, TLS_CA: cfg.TLS_CA };
  checkReadableFiles(tls, 'petrel-node');
  checkTlsFiles(tls, 'petrel-node');
  const dataDir = cfg.DATA_DIR ?? `./data/node-${cfg.NODE_ID ?? cfg.CLIENT_PORT}`;
  return Object.freeze({
    ...cfg,
    DATA_DIR: dataDir,
    PROXY_URLS: Object.freeze(splitList(cfg.PROXY_URL)),
  });
}
