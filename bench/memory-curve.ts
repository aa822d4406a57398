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
 * Growth of one figure of one process over the last half of the run, in MiB per million jobs
 * (a least-squares fit, so one garbage collection's sawtooth does not decide it).
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

/** Up to `rows` samples spread evenly over the jobs, always the first and the last. */
export function pickRows(samples: readonly CurveSample[], rows: number): CurveSample[] {
  if (samples.length <= rows) return [...samples];
  const last = samples.at(-1) as CurveSample;
  const out: CurveSample[] = [];
  for (let i = 0; i < rows; i++) {
    const target = (last.jobs * i) / (rows - 1);
    // the first sample at or past the target
    const s = samples.find((x) => x.jobs >= target) ?? last;
    if (out.at(-1) !== s) out.push(s);
  }
  return out;
}

const mib = (b: number): string => (Number.isFinite(b) ? (b / MiB).toFixed(0) : '—');

/** The curve as a text table: jobs done → RSS (and heap) per process, MiB. */
export function renderCurve(
  samples: readonly CurveSample[],
  processes: readonly string[],
  rows = 21,
): string {
  const header = [
    'jobs done',
    'min',
    ...processes.map((p) => `${p} RSS`),
    ...processes.map((p) => `${p} heap`),
    'disk max',
  ];
  const body = pickRows(samples, rows).map((s) => [
    s.jobs.toLocaleString('en-US'),
    (s.seconds / 60).toFixed(1),
    ...processes.map((p) => mib(s.byProcess[p]?.rss ?? NaN)),
    ...processes.map((p) => mib(s.byProcess[p]?.heapUsed ?? NaN)),
    mib(Math.max(...processes.map((p) => s.byProcess[p]?.disk ?? NaN))),
  ]);
  const table = [header, ...body];
  const widths = header.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((cell, c) => cell.padStart(widths[c] ?? 0)).join('  ');
  return [
    '(MiB; heap = V8 heap used; disk max = the largest data directory)',
    line(header),
    ...body.map(line),
  ].join('\n');
}

/** Every sample as CSV: one row per sample, three columns (bytes) per process. */
export function curveCsv(samples: readonly CurveSample[], processes: readonly string[]): string {
  const header = ['seconds', 'jobs'];
  for (const p of processes) header.push(`${p}_rss`, `${p}_heap_used`, `${p}_disk`);
  const rows = samples.map((s) => {
    const cells = [s.seconds.toFixed(1), String(s.jobs)];
    for (const p of processes) {
      const x = s.byProcess[p];
      for (const v of [x?.rss, x?.heapUsed, x?.disk])
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
 * A last half shorter than this says nothing: one garbage collection's sawtooth (tens of MiB)
 * over a few thousand jobs would read as hundreds of MiB per million.
 */
export const MIN_JUDGED_JOBS = 250_000;

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
