import { InvalidArgumentError, type Command } from 'commander';
import type { SubmitSpec } from '../../client/index.js';
import { WireError } from '../../shared/errors.js';
import {
  action,
  collect,
  collectList,
  common,
  duration,
  int,
  out,
  withClient,
  type CommonOptions,
} from '../context.js';
import { envOf, readStdin, retriesArg } from '../job-input.js';

interface SubmitOptions extends Omit<CommonOptions, 'json'> {
  json?: boolean | string;
  /** The spec `--json '{...}'` gave, whichever `--json` came last. */
  jsonSpec?: string;
  /** `--json` given as the flag (machine-readable output), not only for a spec. */
  jsonOutput?: boolean;
  priority?: number;
  timeout?: number;
  maxAttempts?: number;
  retries?: number;
  key?: string;
  delay?: number;
  runAt?: string;
  cron?: string;
  tz?: string;
  env: string[];
  cwd?: string;
  stdin?: boolean;
  cpu?: number;
  mem?: number;
  after: string[];
  tenant?: string;
  label: string[];
}

const signedInt = (text: string): number => {
  if (!/^-?\d+$/.test(text)) throw new InvalidArgumentError(`not a whole number: ${text}`);
  return Number(text);
};

/** What `specOf` reads: the job's options, not the connection's. */
export type SpecOptions = Omit<SubmitOptions, Exclude<keyof CommonOptions, 'json'>>;

const cpus = (text: string): number => {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0)) {
    throw new InvalidArgumentError(`--cpu takes a number above 0 (0.5, 2): not ${text}`);
  }
  return n;
};

/** `--run-at`: epoch milliseconds as a number, any other text as the time the node parses. */
const runAtOf = (text: string): string | number => (/^\d+$/.test(text) ? Number(text) : text);

const isSpec = (text: string) => text.trimStart().startsWith('{');

export function register(program: Command): void {
  const cmd = common(
    program
      .command('submit')
      .description(
        "submit a job and print its ticket: petrel submit echo hello, petrel submit exec -- ls -l, or a full spec with --json '{...}'",
      )
      .argument('[type]', 'sleep, echo, exec, or a type a worker serves')
      .argument('[args...]')
      .option('--priority <n>', 'higher runs first (-1000 to 1000)', signedInt)
      .option(
        '--timeout <duration>',
        'longest the job may run (ms, or 30s, 5m, ...)',
        duration('--timeout', 1),
      )
      .option(
        '--max-attempts <n>',
        'runs that may be lost with their node (1-10)',
        int('--max-attempts', 1),
      )
      .option('--retries <n>', 'runs again after a failure, up to n times', retriesArg)
      .option('--key <key>', 'idempotency key: the same key answers the same ticket')
      .option(
        '--delay <duration>',
        'scheduled this long from now (ms, or 30s, 5m, ...)',
        duration('--delay'),
      )
      .option('--run-at <time>', 'scheduled until then (ISO-8601 with its zone, or epoch ms)')
      .option('--cron <expr>', 'a schedule: five cron fields, each firing runs the job')
      .option('--tz <zone>', "the schedule's IANA time zone (default UTC)")
      // one value per flag: a variadic option would take the type and its args as tickets
      .option(
        '--after <tickets>',
        'blocked until these jobs are done (a comma list; repeatable)',
        collectList,
        [],
      )
      .option('--tenant <name>', 'whose share of the cluster the job uses')
      .option('--label <label>', 'runs only on nodes with this label (repeatable)', collect, [])
      .option('--cpu <n>', 'CPUs one run needs (resources)', cpus)
      .option('--mem <MiB>', 'memory one run needs, in MiB (resources)', int('--mem'))
      .option(
        '-e, --env <NAME=value>',
        'extra environment, for exec and worker types (repeatable)',
        collect,
        [],
      )
      .option('--cwd <dir>', 'working directory on the node, for exec')
      .option(
        '-i, --stdin',
        "standard input (up to 64 KiB) as the job's, for exec and worker types",
      )
      .passThroughOptions(),
    false,
  )
    .option('--json [spec]', "machine-readable output; with '{...}', the job spec itself")
    .action(
      action(async (type: string | undefined, args: string[], opts: SubmitOptions) => {
        const stdin = opts.stdin ? await readStdin() : undefined;
        const spec = specOf(type, args, opts, stdin);
        const ticket = await withClient(opts as CommonOptions, (c) => c.submit(spec));
        // `--json '{...}'` only gives the spec: the bare ticket, for t=$(petrel submit ...)
        out(opts.jsonOutput ? JSON.stringify({ ticket }) : ticket);
      }),
    );
  // one name, two meanings: each `--json` is told apart here, in whatever order they come
  // (`petrel --json submit --json '{...}'` wants both the spec and JSON output)
  cmd.on('option:json', (value: string | null) => {
    if (value !== null && isSpec(value)) {
      cmd.setOptionValue('jsonSpec', value);
      // a spec alone asks for no JSON output: errors too are a plain line then
      cmd.setOptionValue('json', cmd.getOptionValue('jsonOutput') === true ? true : undefined);
    } else cmd.setOptionValue('jsonOutput', true);
  });
}

/** The spec `petrel submit` sends: the type and args or `--json`'s, with each option's field. */
export function specOf(
  type: string | undefined,
  args: string[],
  o: SpecOptions,
  stdin?: string,
): SubmitSpec {
  let base: Record<string, unknown>;
  if (o.jsonSpec !== undefined) {
    try {
      base = JSON.parse(o.jsonSpec) as Record<string, unknown>;
    } catch {
      throw new WireError('BAD_REQUEST', '--json: the spec is not valid JSON');
    }
    if (type !== undefined)
      throw new WireError('BAD_REQUEST', 'give a type or --json {spec}, not both');
  } else {
    // `--json echo hi`: the flag took the type as its value
    const words =
      typeof o.json === 'string' && !isSpec(o.json)
        ? [o.json, ...(type ? [type] : []), ...args]
        : [type, ...args];
    const [t, ...afterType] = words;
    // `petrel submit exec -- ls -l`: the `--` only ends petrel's own options
    const rest = afterType[0] === '--' ? afterType.slice(1) : afterType;
    if (!t) throw new WireError('BAD_REQUEST', 'usage: petrel submit <type> [args...]');
    base = { type: t, args: rest };
  }
  const extra: Record<string, unknown> = {
    priority: o.priority,
    timeoutMs: o.timeout,
    maxAttempts: o.maxAttempts,
    retry: o.retries === undefined ? undefined : { attempts: o.retries + 1 },
    key: o.key,
    delayMs: o.delay,
    runAt: o.runAt === undefined ? undefined : runAtOf(o.runAt),
    cron: o.cron,
    tz: o.tz,
    env: o.env.length ? envOf(o.env) : undefined,
    cwd: o.cwd,
    stdin,
    after: o.after.length ? o.after : undefined,
    tenant: o.tenant,
    constraints: o.label.length ? { labels: o.label } : undefined,
    resources:
      o.cpu === undefined && o.mem === undefined ? undefined : { cpu: o.cpu, memMb: o.mem },
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) base[k] = v;
  return base as SubmitSpec;
}
