import { isBuiltinType, type JobSpec } from '../shared/job.js';

/**
 * Placement: which nodes may ever run a job (labels, size, custom types) and whether one has
 * room for it now (slots, CPU, memory). Plain functions over plain data.
 */

/** What a node offers, as it said in HELLO (and its attached workers' types). */
export interface NodeCaps {
  readonly labels: ReadonlySet<string>;
  readonly cpus: number;
  readonly memMb: number;
  /** Custom job types a worker serves on this node. */
  readonly types: ReadonlySet<string>;
}

/** What one run of a job needs of its node. */
export interface Needs {
  /** Sorted, without repeats. */
  readonly labels: readonly string[];
  readonly cpu: number;
  readonly memMb: number;
  /** A custom type (only a node with a worker for it may run it); built-in types need none. */
  readonly type: string | undefined;
}

export const NO_NEEDS: Needs = Object.freeze({ labels: [], cpu: 0, memMb: 0, type: undefined });

/** The caps of a node that said nothing of itself: no labels, no limits, no workers. */
export const OPEN_CAPS: NodeCaps = Object.freeze({
  labels: new Set<string>(),
  cpus: Infinity,
  memMb: Infinity,
  types: new Set<string>(),
});

export function capsOf(c: {
  labels?: readonly string[];
  cpus?: number;
  memMb?: number;
  types?: readonly string[];
}): NodeCaps {
  return {
    labels: new Set(c.labels ?? []),
    cpus: c.cpus ?? Infinity,
    memMb: c.memMb ?? Infinity,
    types: new Set(c.types ?? []),
  };
}

type PlacementSpec = Pick<JobSpec, 'type' | 'constraints' | 'resources'>;

/** The needs of one run of `spec` (a task's spec carries its job's constraints and resources). */
export function needsOf(spec: PlacementSpec): Needs {
  // most jobs ask for nothing: no set or sort for them
  if (
    !spec.constraints?.labels.length &&
    !spec.resources?.cpu &&
    !spec.resources?.memMb &&
    (spec.type === undefined || isBuiltinType(spec.type))
  ) {
    return NO_NEEDS;
  }
  const labels = [...new Set(spec.constraints?.labels ?? [])].sort();
  const cpu = spec.resources?.cpu ?? 0;
  const memMb = spec.resources?.memMb ?? 0;
  const type = spec.type !== undefined && !isBuiltinType(spec.type) ? spec.type : undefined;
  if (labels.length === 0 && cpu === 0 && memMb === 0 && type === undefined) return NO_NEEDS;
  return { labels, cpu, memMb, type };
}

/** Jobs with equal needs form one placement class; the unconstrained class's key is ''. */
export function classKey(n: Needs): string {
  if (n === NO_NEEDS) return '';
  return `${n.labels.join(',')}|${n.cpu}|${n.memMb}|${n.type ?? ''}`;
}

/** Whether a node like `caps` could ever run the job, empty as it may be. */
export function eligible(caps: NodeCaps, n: Needs): boolean {
  if (n.type !== undefined && !caps.types.has(n.type)) return false;
  if (n.cpu > caps.cpus || n.memMb > caps.memMb) return false;
  for (const l of n.labels) if (!caps.labels.has(l)) return false;
  return true;
}

/** What a node has in use: the sum of the needs of the jobs given to it. */
export interface Usage {
  cpu: number;
  memMb: number;
}

/** Whether the job fits beside what the node already runs (slots are checked elsewhere). */
export function fits(caps: NodeCaps, used: Usage, n: Needs): boolean {
  // a little slack, so that ten jobs of 0.1 cpu fit one cpu despite binary fractions
  return used.cpu + n.cpu <= caps.cpus + 1e-9 && used.memMb + n.memMb <= caps.memMb;
}

/**
 * Why no joined node could ever run a job of `n`, or undefined when one could (it then only
 * waits for room). Each requirement narrows the nodes in turn, and the first that leaves none
 * is named: "no worker for type resize", "no node has labels gpu", "no node has 8 cpu".
 */
export function waitingReason(n: Needs, nodes: Iterable<NodeCaps>): string | undefined {
  if (n === NO_NEEDS) return undefined;
  let left = [...nodes];
  const steps: Array<[boolean, (c: NodeCaps) => boolean, () => string]> = [
    [
      n.type !== undefined,
      (c) => c.types.has(n.type as string),
      () => `no worker for type ${n.type}`,
    ],
    [
      n.labels.length > 0,
      (c) => n.labels.every((l) => c.labels.has(l)),
      () => `no node has labels ${n.labels.join(',')}`,
    ],
    [n.cpu > 0, (c) => c.cpus >= n.cpu, () => `no node ${withLabels(n)}has ${n.cpu} cpu`],
    [
      n.memMb > 0,
      (c) => c.memMb >= n.memMb,
      () => `no node ${withLabels(n)}has ${n.memMb} MB of memory`,
    ],
  ];
  for (const [applies, keep, why] of steps) {
    if (!applies) continue;
    left = left.filter(keep);
    if (left.length === 0) return why();
  }
  return undefined;
}

function withLabels(n: Needs): string {
  return n.labels.length ? `with labels ${n.labels.join(',')} ` : '';
}
