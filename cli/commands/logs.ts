import type { Command } from 'commander';
import type { OutputLine } from '../../client/index.js';
import {
  action,
  common,
  int,
  out,
  outputLine,
  withClient,
  type CommonOptions,
} from '../context.js';

interface LogsOptions extends CommonOptions {
  follow?: boolean;
  task?: number;
}

export function register(program: Command): void {
  common(
    program
      .command('logs')
      .description(
        "print a job's output so far, its stdout on stdout and its stderr on stderr; with -f, follow it until the job ends",
      )
      .argument('<ticket>')
      .option('-f, --follow', 'keep printing output as the job produces it')
      .option('--task <i>', 'the output of one task of a job of many tasks', int('--task')),
  ).action(
    action(async (ticket: string, opts: LogsOptions) =>
      withClient(opts, async (c) => {
        const task = { task: opts.task };
        if (!opts.follow) {
          const lines = await c.logs(ticket, task);
          if (opts.json) {
            const output = lines.map((l) => l.text).join('\n');
            out(JSON.stringify({ ticket, output, lines }));
          } else lines.forEach(outputLine);
          return;
        }
        const line = opts.json
          ? (l: OutputLine) => out(JSON.stringify({ line: l.text, stream: l.stream }))
          : outputLine;
        const r = await c.tail(ticket, line, task);
        if (opts.json) out(JSON.stringify({ result: r }));
      }),
    ),
  );
}
