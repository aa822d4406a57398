import type { Command } from 'commander';
import type { Client, JobResult, SubmitSpec } from '../../client/index.js';
import { WireError } from '../../shared/errors.js';
import { MAX_TASKS } from '../../shared/job.js';
import {
  action,
  common,
  duration,
  int,
  note,
  out,
  outputLine,
  outText,
  withClient,
  type CommonOptions,
} from '../context.js';
import { EXIT } from '../exit-codes.js';
import { asPrinted } from '../format.js';
import { onInterrupt } from '../interrupt.js';
import { programNotSpec, readLines, retriesArg } from '../job-input.js';
import { MapProgress } from '../map-progress.js';
import { isClipped, TaskPrinter, type Task } from '../task-printer.js';

interface MapOptions extends CommonOptions {
  jobs?: number;
  keepOrder?: boolean;
  timeout?: number;
  retries?: number;
}

/** The longest pause between looks at a running job's tasks. */
const MAX_POLL_MS = 500;

export function register(program: Command): void {
  common(
    program
      .command('map')
      .description(
        'run a program once per line of standard input ({} in its arguments is the line, or ' +
          'the line is the last argument), as one job of many tasks across the cluster; prints ' +
          `each output, exits 0 when every task succeeded, ${EXIT.TASKS_FAILED} when one did not ` +
          `(as xargs), ${EXIT.INTERRUPTED} when Ctrl-C cancelled it`,
      )
      .option(
        '-j, --jobs <n>',
        "at most n tasks at once across the cluster (the job's concurrency; default: every free slot)",
        int('--jobs', 1),
      )
      .argument('<program>')
      .argument('[args...]')
      .option('-k, --keep-order', 'print outputs in input order (default: as tasks finish)')
      .option(
        '--timeout <duration>',
        'kill a task after this long (ms, or 30s, 5m, ...)',
        duration('--timeout', 1),
      )
      .option('--retries <n>', 'run a failed task again, up to n times', retriesArg)
      .passThroughOptions(),
  ).action(
    action(async (program: string, args: string[], opts: MapOptions) => {
      programNotSpec('map', program);
      const lines = await readLines();
      if (lines.length === 0) return EXIT.OK;
      return withClient(opts, (c) => mapLines(c, program, args, lines, opts));
    }),
  );
}

/** Arguments with `{}` replaced by the line; without any `{}`, the line is added at the end. */
export function withLine(args: string[], line: string): string[] {
  return args.some((a) => a.includes('{}'))
    ? args.map((a) => a.replaceAll('{}', line))
    : [...args, line];
}

/** What one job's tasks may take in its `SUBMIT` line (64 KiB), less room for the rest. */
export const TASKS_BYTES = 64 * 1024 - 1024;

/**
 * The items in batches, one job each: at most `size` of them, and at most `maxBytes` of their
 * `bytes` (each with one more byte for the comma between them). An item heavier than
 * `maxBytes` alone is a batch of its own (its job is refused as too large).
 */
export function batchesOf<T>(
  items: T[],
  size = MAX_TASKS,
  bytes: (item: T) => number = () => 0,
  maxBytes = Infinity,
): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let weight = 0;
  for (const item of items) {
    const w = bytes(item) + 1;
    if (batch.length > 0 && (batch.length >= size || weight + w > maxBytes)) {
      out.push(batch);
      batch = [];
      weight = 0;
    }
    batch.push(item);
    weight += w;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/**
 * The jobs of `petrel map`, each with its lines: at most MAX_TASKS tasks, and no more than a
 * `SUBMIT` line holds (64 KiB). A line whose task alone is too long is refused before any job
 * is submitted.
 */
export function mapJobs(
  program: string,
  args: string[],
  lines: string[],
  opts: Pick<MapOptions, 'jobs' | 'timeout' | 'retries'>,
): Array<{ lines: string[]; spec: SubmitSpec }> {
  const tasks = mapSpec(program, args, lines, opts).tasks ?? [];
  const sized = tasks.map((task, i) => ({
    line: lines[i] as string,
    bytes: Buffer.byteLength(JSON.stringify(task)),
  }));
  const heavy = sized.findIndex((s) => s.bytes > TASKS_BYTES);
  if (heavy >= 0) {
    throw new WireError(
      'TOO_LARGE',
      `line ${heavy + 1} makes a task of ${sized[heavy]?.bytes} bytes; a job's SUBMIT line is limited to 64 KiB`,
    );
  }
  return batchesOf(sized, MAX_TASKS, (s) => s.bytes, TASKS_BYTES).map((batch) => {
    const batchLines = batch.map((s) => s.line);
    return { lines: batchLines, spec: mapSpec(program, args, batchLines, opts) };
  });
}

/** The job of one batch of lines (at most MAX_TASKS). */
export function mapSpec(
  program: string,
  args: string[],
  lines: string[],
  opts: Pick<MapOptions, 'jobs' | 'timeout' | 'retries'>,
): SubmitSpec {
  const spec: SubmitSpec = {
    tasks: lines.map((line) => ({
      type: 'exec',
      args: [program, ...withLine(args, line)],
      timeoutMs: opts.timeout,
    })),
  };
  if (opts.jobs !== undefined) spec.concurrency = Math.min(opts.jobs, MAX_TASKS);
  if (opts.retries !== undefined) spec.retry = { attempts: opts.retries + 1 };
  return spec;
}

/**
 * Lines beyond one job (MAX_TASKS, or a SUBMIT line's 64 KiB) make further jobs, run one after
 * another (so `-j` holds across all of them). Returns the exit code.
 */
async function mapLines(
  c: Client,
  program: string,
  args: string[],
  lines: string[],
  opts: MapOptions,
): Promise<number> {
  const jobs = mapJobs(program, args, lines, opts);
  const bar = new MapProgress(lines.length, process.stderr.isTTY === true && !opts.json);
  const ctrlC = onInterrupt(c);
  let ok = true;
  const tally = { ended: 0, failed: 0 };
  try {
    for (const { lines: batch, spec } of jobs) {
      const ticket = await c.submit(spec);
      ctrlC.started(ticket);
      const r = await follow(c, ticket, batch, opts, {
        progress: (p) => bar.update(tally.ended, tally.failed, p),
        clear: () => bar.clear(),
      });
      tally.ended += batch.length;
      tally.failed += r.progress?.failed ?? 0;
      if (opts.json) out(JSON.stringify(r));
      else if (r.state !== 'done' && !r.tasks?.length) {
        note(`petrel: ${r.ticket} ${r.state}${r.error ? `: ${r.error}` : ''}`);
      }
      ok &&= r.state === 'done' && (r.tasks ?? []).every((t) => t.state === 'done');
      if (ctrlC.pressed) return EXIT.INTERRUPTED;
    }
  } catch (err) {
    if (ctrlC.pressed) return EXIT.INTERRUPTED; // a second Ctrl-C stopped the waiting
    throw err;
  } finally {
    bar.stop();
    ctrlC.off();
  }
  return ok ? EXIT.OK : EXIT.TASKS_FAILED;
}

/** Waits for the job, printing each task's output as it ends (or in order); its final result. */
async function follow(
  c: Client,
  ticket: string,
  lines: string[],
  opts: MapOptions,
  bar: { progress(p: NonNullable<JobResult['progress']>): void; clear(): void },
): Promise<JobResult> {
  const printer = new TaskPrinter(opts.keepOrder === true);
  let pause = 20;
  for (;;) {
    // a short WAIT is the pause: it ends early when the whole job does
    const ended = await c.wait(ticket, { timeoutMs: pause }).catch((err: unknown) => {
      if (err instanceof WireError && err.code === 'TIMEOUT') return null;
      throw err;
    });
    const r = ended ?? (await c.result(ticket));
    if (r.progress) bar.progress(r.progress);
    const ready = opts.json ? [] : printer.take(r.tasks ?? []);
    if (ready.length) bar.clear();
    for (const t of ready) await printTask(c, ticket, t, lines);
    if (ended) return ended;
    pause = Math.min(MAX_POLL_MS, pause * 2);
  }
}

/**
 * A task's output (all of it, read with LOGS when its result clipped it: then each line on
 * the stream it was printed on); why it failed on stderr.
 */
async function printTask(c: Client, ticket: string, t: Task, lines: string[]): Promise<void> {
  const whole = isClipped(t)
    ? await c.logs(ticket, { task: t.index }).catch((err: unknown) => {
        note(`petrel: task ${t.index}: only part of its output (${String(err)})`);
        return null;
      })
    : null;
  if (whole) whole.forEach(outputLine);
  else if (t.output) outText(asPrinted(t.output));
  if (t.state !== 'done') {
    const why = typeof t.exitCode === 'number' ? `exit ${t.exitCode}` : (t.error ?? t.state);
    note(`petrel: task ${t.index} (${lines[t.index] ?? ''}) ${t.state}: ${why}`);
  }
}
