/**
 * The memory curve of a long run: samples of every process's resident set and JS heap
 * against the jobs finished so far, the growth over the run's last half as a slope, a
 * compact table and a CSV. Plain functions, no I/O.
 */

const MiB = 1024 * 1024;

/** One process at one moment; NaN for a figure that could not be read. */
export interface ProcessSample {
  readonly rss: number;
  readonly heapUsed: number;
  /** Bytes of the process's data directory (SQLite file, WAL, SHM, logs). */
  readonly disk: number;
  /**
   * Jobs it holds in memory: the proxy's live jobs (unfinished or undelivered), a node's
   * open tickets; from its `/metrics`.
   */
  readonly held: number;
}

/** Every process at one moment of the run. */
export interface CurveSample {
  /** Seconds since the run started. */
  readonly seconds: number;
  /** Jobs whose result reached a client so far. */
  readonly jobs: number;
  readonly byProcess: Readonly<Record<string, ProcessSample>>;
}

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const pts = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of pts) {
    sx += x;
    sy += y;
  }
  const mx = sx / pts.length;
  const my = sy / pts.length;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of pts) {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - my);
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/** The samples of the run's last half (by jobs finished). */
export function lastHalf(samples: readonly CurveSample[]): CurveSample[] {
  const last = samples.at(-1);
  if (last === undefined) return [];
  return samples.filter((s) => s.jobs >= last.jobs / 2);
}

/**
 * The samples after the first split into `n` intervals of equal jobs; an interval without a
 * sample is left out.
 */
export function intervals(samples: readonly CurveSample[], n: number): CurveSample[][] {
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined || last.jobs <= first.jobs) return [];
  const span = last.jobs - first.jobs;
  const out: CurveSample[][] = Array.from({ length: n }, () => []);
  for (const s of samples.slice(1)) {
    const i = Math.min(n - 1, Math.max(0, Math.ceil(((s.jobs - first.jobs) / span) * n) - 1));
    out[i]?.push(s);
  }
  return out.filter((group) => group.length > 0);
}

/** The lowest and highest value of one figure of one process over some samples (bytes). */
export function range(
  samples: readonly CurveSample[],
  process: string,
  field: keyof ProcessSample,
): { lo: number; hi: number } {
  const values = samples
    .map((s) => s.byProcess[process]?.[field] ?? NaN)
    .filter((v) => Number.isFinite(v));
  return values.length === 0
    ? { lo: NaN, hi: NaN }
    : { lo: Math.min(...values), hi: Math.max(...values) };
}

/**
 * Growth of one figure of one process over the last half of the run, in MiB per million jobs:
 * the least-squares slope over every sample of the last half, so that the sawtooth of a
 * garbage-collected heap (tens of MiB between collections) averages out instead of deciding.
 */
export function growthPerMillion(
  samples: readonly CurveSample[],
  process: string,
  field: keyof ProcessSample = 'rss',
): number {
  const pts = lastHalf(samples).map((s): [number, number] => [
    s.jobs / 1e6,
    (s.byProcess[process]?.[field] ?? NaN) / MiB,
  ]);
  return slope(pts);
}

const mib = (b: number): string => (Number.isFinite(b) ? (b / MiB).toFixed(0) : '—');
const span = (r: { lo: number; hi: number }): string =>
  Number.isFinite(r.lo) ? `${mib(r.lo)}–${mib(r.hi)}` : '—';

/**
 * The curve as a text table: one row per interval of equal jobs, each process's RSS and heap
 * used as the lowest–highest value seen in it (MiB), after a first row at the start.
 */
export function renderCurve(
  samples: readonly CurveSample[],
  processes: readonly string[],
  rows = 20,
): string {
  const header = [
    'jobs done',
    'min',
    ...processes.map((p) => `${p} RSS`),
    ...processes.map((p) => `${p} heap`),
    'disk max',
  ];
  const start = samples.slice(0, 1);
  const body = [start, ...intervals(samples, rows)].map((group) => {
    const end = group.at(-1) as CurveSample;
    return [
      end.jobs.toLocaleString('en-US'),
      (end.seconds / 60).toFixed(1),
      ...processes.map((p) => span(range(group, p, 'rss'))),
      ...processes.map((p) => span(range(group, p, 'heapUsed'))),
      mib(Math.max(...processes.map((p) => range(group, p, 'disk').hi))),
    ];
  });
  const table = [header, ...body];
  const widths = header.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((cell, c) => cell.padStart(widths[c] ?? 0)).join('  ');
  return [
    '(MiB, lowest–highest sample in each interval; heap = V8 heap used; disk = largest data directory)',
    line(header),
    ...body.map(line),
  ].join('\n');
}

/** Every sample as CSV: one row per sample, three columns (bytes) per process. */
export function curveCsv(samples: readonly CurveSample[], processes: readonly string[]): string {
  const header = ['seconds', 'jobs'];
  for (const p of processes) header.push(`${p}_rss`, `${p}_heap_used`, `${p}_disk`, `${p}_held`);
  const rows = samples.map((s) => {
    const cells = [s.seconds.toFixed(1), String(s.jobs)];
    for (const p of processes) {
      const x = s.byProcess[p];
      for (const v of [x?.rss, x?.heapUsed, x?.disk, x?.held])
        cells.push(Number.isFinite(v) ? String(v) : '');
    }
    return cells.join(',');
  });
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

/** The verdict on the run: the steepest growth over the last half, and whether it is flat. */
export interface Verdict {
  readonly fromJobs: number;
  readonly toJobs: number;
  /** MiB per million jobs, per process. */
  readonly rssGrowth: Record<string, number>;
  readonly heapGrowth: Record<string, number>;
  /** The process growing fastest, and its rate. */
  readonly worst: { readonly process: string; readonly mibPerMillion: number };
  /** Whether the last half is long enough to judge (see `MIN_JUDGED_JOBS`). */
  readonly judged: boolean;
  readonly flat: boolean;
}

/**
 * A last half shorter than this says too little: the sawtooth of garbage collection (tens of
 * MiB) fitted over half a million jobs still reads as ±20-40 MiB per million (measured on
 * runs whose curve was flat), so a run is judged from 2 million jobs on.
 */
export const MIN_JUDGED_JOBS = 1_000_000;

export function verdict(
  samples: readonly CurveSample[],
  processes: readonly string[],
  flatMibPerMillion: number,
): Verdict {
  const half = lastHalf(samples);
  const rssGrowth: Record<string, number> = {};
  const heapGrowth: Record<string, number> = {};
  let worst = { process: processes[0] ?? '', mibPerMillion: NaN };
  for (const p of processes) {
    rssGrowth[p] = growthPerMillion(samples, p, 'rss');
    heapGrowth[p] = growthPerMillion(samples, p, 'heapUsed');
    const g = rssGrowth[p] as number;
    if (!(worst.mibPerMillion >= g)) worst = { process: p, mibPerMillion: g };
  }
  const fromJobs = half[0]?.jobs ?? 0;
  const toJobs = half.at(-1)?.jobs ?? 0;
  const judged = toJobs - fromJobs >= MIN_JUDGED_JOBS && Number.isFinite(worst.mibPerMillion);
  return {
    fromJobs,
    toJobs,
    rssGrowth,
    heapGrowth,
    worst,
    judged,
    flat: judged && worst.mibPerMillion <= flatMibPerMillion,
  };
}

/** The verdict as one line. */
export function verdictLine(v: Verdict, flatMibPerMillion: number): string {
  const fmt = (x: number): string =>
    Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(2)}` : '—';
  const each = Object.entries(v.rssGrowth)
    .map(([p, g]) => `${p} ${fmt(g)}`)
    .join(', ');
  const judged = !v.judged
    ? `too short to judge (a last half of at least ${MIN_JUDGED_JOBS.toLocaleString('en-US')} jobs is needed)`
    : v.flat
      ? `flat (≤ ${flatMibPerMillion} MiB per million jobs)`
      : `GROWING (${v.worst.process} above ${flatMibPerMillion} MiB per million jobs)`;
  return (
    `verdict: RSS growth over the last half (${v.fromJobs.toLocaleString('en-US')} → ` +
    `${v.toJobs.toLocaleString('en-US')} jobs), MiB per million jobs: ${each}: ${judged}`
  );
}

/** Samples back from `curveCsv`'s text, with the processes' names in column order. */
export function parseCurveCsv(text: string): { samples: CurveSample[]; processes: string[] } {
  const [head = '', ...rows] = text.trim().split('\n');
  const columns = head.split(',');
  const processes = columns
    .filter((c) => c.endsWith('_rss'))
    .map((c) => c.slice(0, -'_rss'.length));
  const samples = rows.map((row) => {
    const cells = row.split(',');
    const at = (name: string): number => {
      const cell = cells[columns.indexOf(name)];
      return cell === undefined || cell === '' ? NaN : Number(cell);
    };
    const byProcess: Record<string, ProcessSample> = {};
    for (const p of processes) {
      byProcess[p] = {
        rss: at(`${p}_rss`),
        heapUsed: at(`${p}_heap_used`),
        disk: at(`${p}_disk`),
        held: at(`${p}_held`),
      };
    }
    return { seconds: at('seconds'), jobs: at('jobs'), byProcess };
  });
  return { samples, processes };
}
