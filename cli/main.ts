#!/usr/bin/env node
/**
 * `petrel`: the command line of a Petrel cluster, built on `petrel/client`. One file per
 * subcommand in commands/; every one takes --addr, --token and --json.
 */
import { Command, CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
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

const program = new Command('petrel')
  .description('run jobs on a Petrel cluster')
  .version('0.1.0')
  .enablePositionalOptions()
  .showHelpAfterError('(petrel <command> --help for usage)')
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

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    const fine = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
    process.exit(fine.includes(err.code) ? EXIT.OK : EXIT.USAGE);
  }
  process.stderr.write(`petrel: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT.UNAVAILABLE);
});
