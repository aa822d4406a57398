import type { Command } from 'commander';
import { WireError } from '../../shared/errors.js';
import { action, common, int, note, out, withClient, type CommonOptions } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { runProgram } from '../worker-program.js';

interface WorkerCommandOptions extends CommonOptions {
  concurrency: number;
}

export function register(program: Command): void {
  common(
    program
      .command('worker')
      .description(
        'serve jobs of a custom type with a program: petrel worker resize -c 4 -- convert {} -resize 50% out.png',
      )
      .argument('<type>', 'the job type to serve ([a-z][a-z0-9._-], not sleep, echo or exec)')
      .argument('<program>', 'run once per job; exit code 0 means done, its stdout the output')
      .argument('[args...]', "the job's args go where {} is, else after these")
      // options are read up to `--`: after it, everything is the program's
      .option('-c, --concurrency <n>', 'jobs run at once', int('--concurrency', 1), 1),
  ).action(
    action(async (type: string, prog: string, args: string[], opts: WorkerCommandOptions) => {
      const argv = [prog, ...args];
      return withClient(opts, async (c) => {
        const report = (ticket: string, state: string, detail: string) => {
          if (opts.json)
            out(JSON.stringify({ ticket, state, ...(detail ? { error: detail } : {}) }));
          else note(`petrel worker: ${ticket} ${state}${detail ? `: ${detail}` : ''}`);
        };
        const w = await c.worker(
          type,
          async (job) => {
            try {
              const output = await runProgram(argv, job);
              report(job.ticket, 'done', '');
              return output;
            } catch (err) {
              report(
                job.ticket,
                job.signal.aborted ? 'taken back' : 'failed',
                (err as Error).message,
              );
              throw err;
            }
          },
          {
            concurrency: opts.concurrency,
            onError: (err) => note(`petrel worker: ${err.message}`),
          },
        );
        note(`petrel worker: serving ${type} (${opts.concurrency} at once); Ctrl-C stops`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void w.close().then(resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        return EXIT.OK;
      }).catch((err: unknown) => {
        if (err instanceof WireError && err.code === 'BAD_REQUEST') {
          throw new WireError('BAD_REQUEST', `the node refused the worker: ${err.message}`);
        }
        throw err;
      });
    }),
  );
}
