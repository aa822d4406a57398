import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * Reads `.cpuprofile` files (written by `node --cpu-prof`) and lists the functions with the
 * most self time, so a run with `--profile` says where each process spends its CPU.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}

interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples?: number[];
  readonly timeDeltas?: number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface HotFunction {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

/** Self time per function (summed over call sites), largest first. */
export function hotFunctions(
  profile: Profile,
  top = 15,
): { totalMs: number; idleShare: number; top: HotFunction[] } {
  const byNode = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byNode.set(n.id, n);
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    // a sample's time is the delta to the next one
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byNode.get(id)?.callFrame;
    if (frame === undefined) continue;
    total += us;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') idle += us;
    const file = frame.url === '' ? '' : basename(frame.url.replace(/^file:\/\//, ''));
    const where = file === '' ? '' : `${file}:${frame.lineNumber + 1}`;
    const key = `${name}@${where}`;
    const entry = byFunction.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const busy = total - idle;
  const list = [...byFunction.values()]
    .filter((f) => f.name !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((f) => ({
      name: f.name,
      where: f.where,
      selfMs: f.us / 1000,
      share: busy > 0 ? f.us / busy : 0,
    }));
  return { totalMs: total / 1000, idleShare: total > 0 ? idle / total : 0, top: list };
}

/** A printable summary of every profile in `dir`. */
export function summarizeProfiles(dir: string, top = 12): string {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort();
  } catch {
    return `no profiles in ${dir}`;
  }
  const out: string[] = [];
  for (const file of files) {
    try {
      const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
      const s = hotFunctions(profile, top);
      out.push(
        `${file}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(100 * (1 - s.idleShare)).toFixed(0)}% busy; top self time (share of busy):`,
      );
      for (const f of s.top) {
        out.push(
          `  ${(100 * f.share).toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`,
        );
      }
    } catch (err) {
      out.push(`${file}: unreadable (${(err as Error).message})`);
    }
  }
  return out.join('\n');
}
