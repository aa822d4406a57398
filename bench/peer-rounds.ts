import { cpuDelta, cpuSnapshot } from './proc-stats.js';
import { median } from './stats.js';

/**
 * Throughput against a peer, in rounds taken in turn: Petrel, the peer, the peer, Petrel, …
 * Both systems stay up for the whole measurement, so a minute when the shared machine is busy
 * falls on both, and the ratio is the median of the rounds' own ratios: one stalled round (a
 * checkpoint, another program) moves it no more than any other.
 */

/** One measured pass of a closed loop: jobs finished, seconds they took, CPU they cost. */
export interface Pass {
  readonly jobs: number;
  readonly seconds: number;
  /** CPU of the system measured (all its processes), ms. */
  readonly systemMs: number;
  /** CPU of the load generator (this process), ms. */
  readonly generatorMs: number;
}

/**
 * A side of the comparison: its processes, and one pass of its closed loop (the jobs it
 * finished and the seconds they took, from the first submit to the last result).
 */
export interface Side {
  readonly pids: Record<string, number>;
  readonly pass: () => Promise<{ jobs: number; seconds: number }>;
}

export interface RoundFigures {
  /** Median jobs/s of each side's rounds. */
  readonly perSecond: number;
  readonly peerPerSecond: number;
  /** Median of the rounds' ratios (this side ÷ the peer), and each of them. */
  readonly ratio: number;
  readonly ratios: readonly number[];
  /** CPU µs per job over all measured rounds: the system, and the load generator. */
  readonly cpu: { readonly systemUs: number; readonly generatorUs: number };
  readonly peerCpu: { readonly systemUs: number; readonly generatorUs: number };
  readonly jobs: number;
  readonly seconds: number;
}

/** Which side goes first in round `i` (0-based): A B, B A, A B, … */
export function firstInRound(i: number): 'system' | 'peer' {
  return i % 2 === 0 ? 'system' : 'peer';
}

function perJob(passes: readonly Pass[]): { systemUs: number; generatorUs: number } {
  if (passes.length === 0) return { systemUs: NaN, generatorUs: NaN };
  const jobs = passes.reduce((n, p) => n + p.jobs, 0);
  const sum = (f: (p: Pass) => number) => passes.reduce((s, p) => s + f(p), 0);
  return {
    systemUs: (sum((p) => p.systemMs) * 1000) / jobs,
    generatorUs: (sum((p) => p.generatorMs) * 1000) / jobs,
  };
}

/**
 * The figures of paired rounds (`system[i]` and `peer[i]` ran in round i); with no peer passes
 * (no peer installed), the system's alone and the peer's NaN.
 */
export function roundFigures(system: readonly Pass[], peer: readonly Pass[]): RoundFigures {
  if (system.length === 0 || (peer.length > 0 && system.length !== peer.length)) {
    throw new Error('rounds: each round needs a pass of both sides');
  }
  const rate = (p: Pass) => p.jobs / p.seconds;
  const ratios = peer.length === 0 ? [] : system.map((p, i) => rate(p) / rate(peer[i] as Pass));
  return {
    perSecond: median(system.map(rate)),
    peerPerSecond: median(peer.map(rate)),
    ratio: median(ratios),
    ratios,
    cpu: perJob(system),
    peerCpu: perJob(peer),
    jobs: system.reduce((n, p) => n + p.jobs, 0),
    seconds: system.reduce((s, p) => s + p.seconds, 0),
  };
}

async function measured(side: Side): Promise<Pass> {
  const a = cpuSnapshot(side.pids);
  const { jobs, seconds } = await side.pass();
  const d = cpuDelta(a, cpuSnapshot(side.pids));
  const systemMs = Object.values(d.byName).reduce((sum, ms) => sum + ms, 0);
  return { jobs, seconds, systemMs, generatorMs: d.ownMs };
}

/**
 * One unmeasured pass of each side (a fresh process compiles its batch paths on its first
 * jobs of a new shape), then `rounds` rounds of one measured pass each, in turn.
 */
export async function alternateRounds(
  system: Side,
  peer: Side | undefined,
  rounds: number,
  log: (line: string) => void,
): Promise<RoundFigures> {
  await system.pass();
  await peer?.pass();
  const mine: Pass[] = [];
  const theirs: Pass[] = [];
  for (let i = 0; i < rounds; i++) {
    log(`round ${i + 1} of ${rounds}`);
    if (peer && firstInRound(i) === 'peer') theirs.push(await measured(peer));
    mine.push(await measured(system));
    if (peer && firstInRound(i) === 'system') theirs.push(await measured(peer));
  }
  return roundFigures(mine, theirs);
}
