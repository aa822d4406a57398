import type { Command } from 'commander';
import { action, common, int, out, withClient, type CommonOptions } from '../context.js';

interface LogsOptions extends CommonOptions {
  follow?: boolean;
  task?: number;
}

export function register(program: Command): void {
  common(
    program
      .command('logs')
      .description("print a job's output so far; with -f, follow it until the job ends")
      .argument('<ticket>')
      .option('-f, --follow', 'keep printing output as the job produces it')
      .option('--task <i>', 'the output of one task of a job of many tasks', int('--task')),
  ).action(
    action(async (ticket: string, opts: LogsOptions) =>
      withClient(opts, async (c) => {
        const task = { task: opts.task };
        if (!opts.follow) {
          const text = await c.logs(ticket, task);
          if (opts.json) out(JSON.stringify({ ticket, output: text }));
          else if (text !== '') out(text);
          return;
        }
        const line = opts.json
          ? (text: string) => out(JSON.stringify({ line: text }))
          : (text: string) => out(text);
        const r = await c.tail(ticket, line, task);
        if (opts.json) out(JSON.stringify({ result: r }));
      }),
    ),
  );
}
