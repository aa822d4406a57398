import type { Client, JobResult, SubmitSpec } from '../client/index.js';
import type { Task } from './task-printer.js';

/**
 * `petrel map -j n`: at most `n` runs at once, each line a job of its own, the next submitted
 * as soon as one finishes (what `xargs -P n` does, across the cluster). `done` gets each
 * line's outcome as a task record, in the order they finish.
 */
export async function runPool(
  c: Client,
  specs: SubmitSpec[],
  n: number,
  done: (task: Task) => void,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < specs.length) {
      const index = next++;
      const r = await c.wait(await c.submit(specs[index] as SubmitSpec));
      done(asTask(index, r));
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, specs.length) }, lane));
}

function asTask(index: number, r: JobResult): Task {
  return {
    index,
    state: r.state,
    exitCode: r.exitCode,
    error: r.error,
    node: r.node,
    output: r.output,
  };
}
