import cliProgress from 'cli-progress';
import type { JobResult } from '../client/index.js';

type Progress = NonNullable<JobResult['progress']>;

/**
 * `petrel map`'s progress bar on a terminal (stderr): tasks ended of all lines, how many run
 * and how many failed. Outputs go to stdout meanwhile, so the bar's line is cleared before
 * each and drawn again after it. Does nothing when stderr is not a terminal.
 */
export class MapProgress {
  private readonly bar: cliProgress.SingleBar | undefined;

  constructor(total: number, show = process.stderr.isTTY === true) {
    if (!show) return;
    this.bar = new cliProgress.SingleBar(
      {
        format:
          ' {bar} {value}/{total} tasks  {running} running  {failed} failed  {duration_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        gracefulExit: false,
        forceRedraw: true,
        stream: process.stderr,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { running: 0, failed: 0 });
  }

  /** The counts of the job now running, after `before` tasks of earlier jobs ended. */
  update(before: number, beforeFailed: number, p: Progress): void {
    this.bar?.update(before + p.done + p.failed, {
      running: p.running,
      failed: beforeFailed + p.failed,
    });
  }

  /** Clears the bar's line: output for the terminal follows (the bar is drawn again after). */
  clear(): void {
    if (this.bar) process.stderr.write('\r\x1b[2K');
  }

  stop(): void {
    this.bar?.stop();
  }
}
