import type { Command } from 'commander';
import type { Client, JobResult } from '../../client/index.js';
import { WireError } from '../../shared/errors.js';
import {
  action,
  collect,
  common,
  duration,
  note,
  out,
  outputLine,
  outText,
  withClient,
  type CommonOptions,
} from '../context.js';
import { EXIT, exitCodeOfJob } from '../exit-codes.js';
import { asPrinted } from '../format.js';
import { onInterrupt } from '../interrupt.js';
import { envOf, programNotSpec, readStdin, retriesArg } from '../job-input.js';

interface RunOptions extends CommonOptions {
  timeout?: number;
  env: string[];
  cwd?: string | boolean;
  stdin?: boolean;
  retries?: number;
}

export function register(program: Command): void {
  common(
    program
      .command('run')
      .description(
        'run a program on the cluster as if here: its stdout and stderr as they are printed, its exit code; Ctrl-C cancels it',
      )
      .argument('<program>', 'a program the nodes allow (EXEC_ALLOW)')
      .argument('[args...]')
      .option(
        '--timeout <duration>',
        'kill it after this long (ms, or 30s, 5m, ...)',
        duration('--timeout', 1),
      )
      .option('-e, --env <NAME=value>', 'extra environment (repeatable)', collect, [])
      .option('--cwd <dir>', 'working directory on the node (default: this directory)')
      .option('--no-cwd', "run in the node's own default directory")
      .option('-i, --stdin', 'send standard input (up to 64 KiB) to the program')
      .option('--retries <n>', 'run again after a failure, up to n times', retriesArg)
      .passThroughOptions(),
  ).action(
    action(async (program: string, args: string[], opts: RunOptions) => {
      programNotSpec('run', program);
      const spec = {
        type: 'exec',
        args: [program, ...args],
        timeoutMs: opts.timeout,
        env: opts.env.length ? envOf(opts.env) : undefined,
        cwd:
          opts.cwd === false ? undefined : typeof opts.cwd === 'string' ? opts.cwd : process.cwd(),
        stdin: opts.stdin ? await readStdin() : undefined,
        retry: opts.retries === undefined ? undefined : { attempts: opts.retries + 1 },
      };
      return withClient(opts, async (c) => {
        const interrupt = onInterrupt(c);
        try {
          const ticket = await c.submit(spec);
          interrupt.started(ticket);
          const r = await follow(c, ticket, opts.json === true);
          if (opts.json) out(JSON.stringify(r));
          else if (r.state !== 'done' && typeof r.exitCode !== 'number' && r.error) {
            note(`petrel: ${r.ticket} ${r.state}: ${r.error}`);
          }
          return exitCodeOfJob(r);
        } catch (err) {
          // a second Ctrl-C closed the client: what failed is only the waiting
          if (interrupt.abandoned) return EXIT.INTERRUPTED;
          throw err;
        } finally {
          interrupt.off();
        }
      });
    }),
  );
}

/**
 * Streams the job's output as it is printed (TAIL), its stdout on stdout and its stderr on
 * stderr; a node without TAIL prints it at the end.
 */
async function follow(c: Client, ticket: string, quiet: boolean): Promise<JobResult> {
  try {
    return await c.tail(ticket, (line) => quiet || outputLine(line));
  } catch (err) {
    if (!(err instanceof WireError && err.code === 'UNKNOWN_COMMAND')) throw err;
    const r = await c.wait(ticket);
    if (!quiet && r.output) outText(asPrinted(r.output));
    return r;
  }
}
