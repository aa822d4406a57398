#!/usr/bin/env node
/**
 * `petrel`: the command line of a Petrel cluster, built on `petrel/client`. One file per
 * subcommand in commands/; every one takes --addr, --token, --reply-timeout,
 * --reconnect-timeout and --json.
 */
import { Command, CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { hoistGlobalOptions } from './global-options.js';
import { note, watchOutput } from './output.js';
import * as cancel from './commands/cancel.js';
import * as logs from './commands/logs.js';
import * as ls from './commands/ls.js';
import * as map from './commands/map.js';
import * as result from './commands/result.js';
import * as retry from './commands/retry.js';
import * as run from './commands/run.js';
import * as status from './commands/status.js';
import * as submit from './commands/submit.js';
import * as top from './commands/top.js';
import * as wait from './commands/wait.js';
import * as worker from './commands/worker.js';

watchOutput((code) => process.exit(code));

const program = new Command('petrel')
  .description('run jobs on a Petrel cluster')
  .version('0.1.0')
  .enablePositionalOptions()
  .showHelpAfterError('(petrel <command> --help for usage)')
  .addHelpText(
    'after',
    `
Every command takes (before or after its name):
  --addr <host:port>  a node of the cluster, a comma list for several
                      (env PETREL_ADDR, default localhost:9000)
  --token <token>     the node's CLIENT_TOKEN (env PETREL_TOKEN)
  --reply-timeout <duration>
                      a node that leaves a call without a byte of reply this long
                      (beyond what a wait asks) counts as hung: the call goes to the
                      next node or fails, exit 69; when a node is quiet while output
                      is followed (logs -f, run) or petrel worker is idle, it is sent
                      PING, and counts as hung if no answer comes this long
                      (env PETREL_REPLY_TIMEOUT, default 15s, 0 never)
  --reconnect-timeout <duration>
                      how long a call whose connection to a node was lost (or
                      counted as hung) keeps trying the nodes before it fails,
                      exit 69 (env PETREL_RECONNECT_TIMEOUT, default 30s; 0: it
                      fails at once, no node is dialed again)
  --json              machine-readable output (JSON)

Exit codes: 0 success, 1 a job failed or was cancelled, 64 bad usage, 66 no such ticket,
69 no node answers, 74 the output could not be written, 75 timed out or busy, 77 token
missing or wrong, or not allowed, 123 a task of petrel map failed, 130 Ctrl-C cancelled the
job, 141 the reader of the output went away; petrel run exits with the job's own code (124
it timed out, 127 it could not start). petrel <command> --help for its options.`,
  )
  .exitOverride();

for (const command of [
  run,
  submit,
  wait,
  status,
  result,
  cancel,
  retry,
  logs,
  ls,
  top,
  map,
  worker,
]) {
  command.register(program);
}
for (const sub of program.commands) sub.exitOverride();

const [node, script, ...args] = process.argv;
program
  .parseAsync([node as string, script as string, ...hoistGlobalOptions(args)])
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      const fine = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
      process.exit(fine.includes(err.code) ? EXIT.OK : EXIT.USAGE);
    }
    note(`petrel: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(EXIT.UNAVAILABLE);
  });
