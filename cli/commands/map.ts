import type { Command } from 'commander';
import type { Client, JobResult } from '../../client/index.js';
import { WireError } from '../../shared/errors.js';
import { MAX_TASKS } from '../../shared/job.js';
import { action, common, int, note, out, withClient, type CommonOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { asPrinted } from '../format.js';
import { readLines } from '../job-input.js';
import { runPool } from '../map-pool.js';
import { TaskPrinter, type Task } from '../task-printer.js';

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
          'each output, exits 0 when every task succeeded',
      )
      .option(
        '-j, --jobs <n>',
        'at most n at once: each line a job of its own, the next sent as one finishes (as xargs -P)',
        int('--jobs', 1),
      )
      .argument('<program>')
      .argument('[args...]')
      .option('-k, --keep-order', 'print outputs in input order (default: as tasks finish)')
      .option('--timeout <ms>', 'kill a task after this long', int('--timeout', 1))
      .option('--retries <n>', 'run a failed task again, up to n times', int('--retries'))
      .passThroughOptions(),
  ).action(
    action(async (program: string, args: string[], opts: MapOptions) => {
      const lines = await readLines();
      if (lines.length === 0) return EXIT.OK;
      if (lines.length > MAX_TASKS) {
        throw new WireError(
          'TOO_LARGE',
          `${lines.length} lines; a job holds at most ${MAX_TASKS} tasks`,
        );
      }
      const tasks = lines.map((line) => ({
        type: 'exec',
        args: [program, ...withLine(args, line)],
        timeoutMs: opts.timeout,
      }));
      const retry = opts.retries === undefined ? undefined : { attempts: opts.retries + 1 };
      if (opts.jobs !== undefined) {
        const n = opts.jobs;
        return withClient({ ...opts, maxWaitConnections: n }, async (c) => {
          const printer = new TaskPrinter(opts.keepOrder === true);
          let failed = false;
          await runPool(
            c,
            tasks.map((task) => ({ ...task, retry })),
            n,
            (task) => {
              if (task.state !== 'done') failed = true;
              if (opts.json) out(JSON.stringify(task));
              else for (const t of printer.add(task)) printTask(t, lines);
            },
          );
          return failed ? EXIT.JOB_FAILED : EXIT.OK;
        });
      }
      return withClient(opts, async (c) => {
        const ticket = await c.submit({ tasks, retry });
        const r = await printAsFinished(c, ticket, lines, opts);
        if (opts.json) out(JSON.stringify(r));
        else if (r.state !== 'done' && !r.tasks?.length) {
          note(`petrel: ${r.ticket} ${r.state}${r.error ? `: ${r.error}` : ''}`);
        }
        const ok = r.state === 'done' && (r.tasks ?? []).every((t) => t.state === 'done');
        return ok ? EXIT.OK : EXIT.JOB_FAILED;
      });
    }),
  );
}

/** Arguments with `{}` replaced by the line; without any `{}`, the line is added at the end. */
export function withLine(args: string[], line: string): string[] {
  return args.some((a) => a.includes('{}'))
    ? args.map((a) => a.replaceAll('{}', line))
    : [...args, line];
}

async function printAsFinished(
  c: Client,
  ticket: string,
  lines: string[],
  opts: MapOptions,
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
    if (!opts.json) {
      for (const t of printer.take(r.tasks ?? [])) printTask(t, lines);
    }
    if (ended) return ended;
    pause = Math.min(MAX_POLL_MS, pause * 2);
  }
}

/** A finished task's output on stdout; why it failed on stderr. */
function printTask(t: Task, lines: string[]): void {
  if (t.output) process.stdout.write(asPrinted(t.output));
  if (t.state !== 'done') {
    const why = typeof t.exitCode === 'number' ? `exit ${t.exitCode}` : (t.error ?? t.state);
    note(`petrel: task ${t.index} (${lines[t.index] ?? ''}) ${t.state}: ${why}`);
  }
}
