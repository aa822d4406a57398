import { readFileSync } from 'node:fs';
import { parseCurveCsv, renderCurve, verdict, verdictLine } from './memory-curve.js';
import { FLAT_MIB_PER_MILLION } from './scenarios/memory.js';

/**
 * `node dist/bench/memory-report.js <memory-fsync.csv> [rows]`: the curve and verdict of a
 * memory run again, from the CSV it wrote (to render it with fewer or more rows).
 */

const [file, rows] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: node dist/bench/memory-report.js <memory-<mode>.csv> [rows]\n');
  process.exit(2);
}
const { samples, processes } = parseCurveCsv(readFileSync(file, 'utf8'));
process.stdout.write(
  `${renderCurve(samples, processes, rows === undefined ? 20 : Number(rows))}\n`,
);
process.stdout.write(
  `${verdictLine(verdict(samples, processes, FLAT_MIB_PER_MILLION), FLAT_MIB_PER_MILLION)}\n`,
);
