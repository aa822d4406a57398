import { isDiskFull } from '../shared/db.js';
import { WireError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { BUILTIN_TYPES, cronNeverFires, type JobSpec } from '../shared/job.js';
import { execRefusal } from './job-runner.js';

/**
 * Why this node refuses `spec` before issuing a ticket: a type nobody serves, a program
 * `exec` may not run here (EXEC_ALLOW), or a schedule that would never fire. Undefined when
 * the job may be accepted.
 */
export function submitRefusal(
  spec: JobSpec,
  typeKnown: (type: string) => boolean,
  execAllow: readonly string[],
): WireError | undefined {
  const never = spec.cron === undefined ? null : cronNeverFires(spec.cron, spec.tz);
  if (never) return new WireError('BAD_REQUEST', `cron: ${never}`);
  if (spec.tasks === undefined) return runRefusal(spec, typeKnown, execAllow);
  for (const run of spec.tasks) {
    const refusal = runRefusal(run, typeKnown, execAllow);
    if (refusal) return refusal;
  }
  return undefined;
}

/** Why one run (a job's, or one of its tasks) may not run here, if it may not. */
function runRefusal(
  run: { type?: string; args: string[] },
  typeKnown: (type: string) => boolean,
  execAllow: readonly string[],
): WireError | undefined {
  if (run.type !== undefined && !typeKnown(run.type)) {
    return new WireError('BAD_REQUEST', unknownTypeMessage(run.type));
  }
  if (run.type === 'exec') {
    const why = execRefusal(run.args[0] ?? '', execAllow);
    if (why) return new WireError('FORBIDDEN', why);
  }
  return undefined;
}

/**
 * Names the built-in types and, since `SUBMIT ls -l` is the newcomer's usual slip, how a
 * program runs. Starts `unknown job type <type>`, which scripts and workers' clients match.
 */
export function unknownTypeMessage(type: string): string {
  return (
    `unknown job type ${type} (built in: ${BUILTIN_TYPES.join(', ')}, and the types of ` +
    `connected workers; to run the program ${type}: exec ${type} ...)`
  );
}

/** The refusal a client hears while this node's disk is full. */
export function diskFullError(dataDir: string | undefined): WireError {
  return new WireError(
    'UNAVAILABLE',
    `the disk holding ${dataDir ?? 'DATA_DIR'} is full: this node takes no new ` +
      'jobs until space is freed (tickets already issued still answer); try another node or later',
  );
}

/**
 * A SUBMIT beyond MAX_OPEN_JOBS: every unfinished job this node issued is held in its memory
 * (and, while queued, in the proxy's), so a backlog without bound would end in running out of
 * memory, and a restart would load it all again. Nothing is created; the same SUBMIT succeeds
 * once jobs finish. Asked after the spec's own checks, so a bad spec is told what is wrong.
 */
export function busyRefusal(open: number, max = Infinity): WireError | undefined {
  if (open < max) return undefined;
  return new WireError(
    'BUSY',
    `this node holds ${open} unfinished jobs and tasks (MAX_OPEN_JOBS): ` +
      'submit again when some have finished, or to another node',
  );
}

/**
 * What a client is told when its ticket could not be stored; the cause is logged, unless it is
 * a full disk, which the reply names.
 */
export function storeFailure(err: Error, dataDir: string | undefined, log: Logger): WireError {
  if (isDiskFull(err)) return diskFullError(dataDir);
  log.error({ err }, 'could not commit a ticket');
  return new WireError('UNAVAILABLE', 'could not store the job, try again');
}
