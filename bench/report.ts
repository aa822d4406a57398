import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Results: every scenario reports named metrics, one value per durability mode; the report
 * prints them as one table (targets from the issue next to them) and writes the JSON.
 */

export interface Target {
  readonly op: '>=' | '<=';
  readonly value: number;
}

export interface Metric {
  readonly label: string;
  readonly unit: string;
  /** NaN when not measured. */
  readonly value: number;
  readonly target?: Target;
  /** Shown before the value, e.g. '≥' for a censored lower bound. */
  readonly prefix?: string;
  /** Digits after the point; default by magnitude. */
  readonly digits?: number;
}

export interface ScenarioResult {
  readonly metrics: Metric[];
  readonly details: Record<string, unknown>;
  readonly notes: string[];
  /** Printed below the table as it is (a curve, a verdict). */
  readonly text?: string;
}

/** A scenario's outcome in one durability mode: its result, or why it failed. */
export type Outcome =
  | { ok: true; result: ScenarioResult; seconds: number }
  | { ok: false; error: string; seconds: number };

export interface ScenarioRow {
  readonly name: string;
  readonly title: string;
  readonly byMode: Record<string, Outcome>;
}

function formatNumber(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return '—';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function formatMetric(m: Metric): string {
  const v = formatNumber(m.value, m.digits);
  if (v === '—') return v;
  return `${m.prefix ?? ''}${v}${m.unit === '' ? '' : ` ${m.unit}`}`;
}

export function meetsTarget(m: Metric): boolean | null {
  if (m.target === undefined || !Number.isFinite(m.value)) return null;
  if (m.prefix === '≥' && m.target.op === '<=') return false;
  return m.target.op === '>=' ? m.value >= m.target.value : m.value <= m.target.value;
}

function formatTarget(m: Metric): string {
  if (m.target === undefined) return '';
  return `${m.target.op === '>=' ? '≥' : '≤'} ${formatNumber(m.target.value, m.digits)}${m.unit === '' ? '' : ` ${m.unit}`}`;
}

/** Renders the table: one row per metric, one column per durability mode. */
export function renderTable(rows: readonly ScenarioRow[], modes: readonly string[]): string {
  const header = ['scenario', 'metric', ...modes, 'target', ''];
  const table: string[][] = [header];
  for (const row of rows) {
    const first = modes.map((m) => row.byMode[m]).find((o) => o !== undefined);
    if (first === undefined) continue;
    if (!first.ok) {
      table.push([row.title, 'FAILED', ...modes.map((m) => shortError(row.byMode[m])), '', '']);
      continue;
    }
    first.result.metrics.forEach((metric, i) => {
      const cells = modes.map((mode) => {
        const o = row.byMode[mode];
        if (o === undefined) return '';
        if (!o.ok) return 'failed';
        const m = o.result.metrics[i];
        return m === undefined ? '' : formatMetric(m);
      });
      const pass = meetsTarget(metric);
      table.push([
        i === 0 ? row.title : '',
        metric.label,
        ...cells,
        formatTarget(metric),
        pass === null ? '' : pass ? 'ok' : 'MISS',
      ]);
    });
  }
  const widths = header.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((cell, c) => {
        const w = widths[c] ?? 0;
        return c >= 2 && c < 2 + modes.length ? cell.padStart(w) : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...table.slice(1).map(line)].join('\n');
}

function shortError(o: Outcome | undefined): string {
  if (o === undefined) return '';
  if (o.ok) return 'ok';
  return o.error.split('\n')[0]?.slice(0, 60) ?? 'failed';
}

/** Writes the JSON report (creating its directory). */
export function writeReport(path: string, report: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
