import { seededRandom } from '../workload.js';
import type { Resolved } from './options.js';

/**
 * What every part of a chaos run shares: the options, the seeded random source, the counters
 * and findings the report is made of, and the deadline every loop checks.
 */

export const MAX_EXAMPLES = 10;
export const POLL_MS = 10;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type { Job } from './job-kinds.js';

export interface Ticket {
  readonly id: string;
  readonly job: number;
  readonly origin: number;
}

export class RunContext {
  readonly started = Date.now();
  readonly rand: () => number;
  readonly tickets: Ticket[] = [];
  readonly problems: string[] = [];
  readonly examples: string[] = [];
  readonly recovery = {
    node: [] as number[],
    rejoin: [] as number[],
    proxy: [] as number[],
    proxyStart: [] as number[],
    detect: [] as number[],
    latency: [] as number[],
  };
  slowest: { ms: number; text: string } | undefined;
  /** What the chaos did and when, written to `logs/events.log` when the directory is kept. */
  readonly events: string[] = [];
  resubmits = 0;
  /** Jobs a node refused (counted wrong), and those waiting for one (never submitted). */
  refused = 0;
  submitDone = false;
  nodeKills = 0;
  proxyKills = 0;
  /** Set when the chaos loop failed: every other loop stops too. */
  fatal: Error | undefined;
  lastTerminalAt = 0;
  /** When the first submission went out, and how long submitting took. */
  t0 = 0;
  submitMs = 0;
  counts = { done: 0, lost: 0, inconsistent: 0, wrong: 0 };
  /** Tickets found in their job's end state, by the job's kind. */
  readonly ended: Record<string, number> = {};
  /** Results not as their job promises, by the job's kind. */
  readonly wrong: Record<string, number> = {};

  constructor(readonly o: Resolved) {
    this.rand = seededRandom(o.seed);
  }

  /** Throws once the run is past its deadline or aborted: every loop calls it. */
  readonly live = (): void => {
    if (this.fatal) throw this.fatal;
    if (this.o.signal?.aborted) throw new Error('chaos run aborted');
    if (Date.now() - this.started > this.o.deadlineMs) {
      throw new Error(`chaos run exceeded its deadline of ${this.o.deadlineMs} ms`);
    }
  };

  /** Polls `check` every POLL_MS until it is truthy (returns true) or `ms` pass (false). */
  async poll(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      this.live();
      if (await Promise.resolve(check()).catch(() => false)) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  event(text: string): void {
    this.events.push(`${new Date().toISOString()} ${text}`);
  }

  say(line: string): void {
    this.event(line);
    this.o.progress?.(line);
  }

  problem(text: string): void {
    if (this.problems.length < 50) this.problems.push(text);
  }

  wrongOf(kind: string): void {
    this.counts.wrong++;
    this.wrong[kind] = (this.wrong[kind] ?? 0) + 1;
  }

  example(text: string): void {
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(text);
  }

  nodeId(i: number): string {
    return `chaos-${i + 1}`;
  }
}
