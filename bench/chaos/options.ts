import type { Mix } from './job-kinds.js';

/** What a chaos run can be asked to do, and what it does when not asked. */

export type Durability = 'fsync' | 'relaxed';
export type { Mix };

export interface ChaosOptions {
  /** Jobs to submit; each is retried until a ticket comes back. */
  readonly jobs: number;
  /** `plain`: sleep and echo jobs; `system`: also delays, keys, retries, dependencies, tasks. */
  readonly mix?: Mix;
  /**
   * Three proxies in a group over etcd (Debian's etcd-server) instead of one: the proxy killed
   * is the leader, restarted at once as a follower while another takes over.
   */
  readonly group?: boolean;
  readonly durability?: Durability;
  /** Mean time between two kills (each is this ±25 %). */
  readonly killEveryMs?: number;
  /** Submissions per second over all connections; 0: as fast as the nodes answer. */
  readonly rate?: number;
  readonly nodes?: number;
  readonly slots?: number;
  readonly connectionsPerNode?: number;
  /** Submissions in flight per connection. */
  readonly window?: number;
  /** Sleep jobs wait 0..maxSleepMs. */
  readonly maxSleepMs?: number;
  readonly nodeTimeoutMs?: number;
  readonly requestResultPeriodMs?: number;
  /** Kill the proxy once, mid-run: when the proxy has finished half of the jobs. */
  readonly killProxy?: boolean;
  readonly seed?: number;
  /** Bound on the whole run. */
  readonly deadlineMs?: number;
  /** After the chaos stops, how long tickets may take to become terminal. */
  readonly settleMs?: number;
  /** Keep the data directories and process logs: never, when something went wrong, always. */
  readonly keep?: 'never' | 'on-failure' | 'always';
  readonly progress?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export type Resolved = Required<Omit<ChaosOptions, 'progress' | 'signal'>> &
  Pick<ChaosOptions, 'progress' | 'signal'>;

export const DEFAULTS: Omit<Resolved, 'jobs' | 'progress' | 'signal'> = {
  mix: 'plain',
  group: false,
  durability: 'fsync',
  killEveryMs: 1000,
  rate: 0,
  nodes: 3,
  slots: 4,
  connectionsPerNode: 2,
  window: 16,
  maxSleepMs: 50,
  nodeTimeoutMs: 500,
  requestResultPeriodMs: 300,
  killProxy: true,
  seed: 1,
  deadlineMs: 30 * 60_000,
  settleMs: 60_000,
  keep: 'on-failure',
};
