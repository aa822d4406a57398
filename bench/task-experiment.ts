import { idealJobResponse, simulate, workload, type SimJob, type SimOptions } from './task-sim.js';
import type { PolicyName } from '../proxy/policies.js';

/**
 * The seeds' experiment at scale (`npm run bench:tasks`): jobs of 10-100 tasks with
 * heterogeneous run times on 100 and 1,000 simulated nodes of 4 slots at 50%, 80% and 90%
 * load, placed by the proxy's own dispatcher under each policy, judged by job response time
 * (arrival to last task) against the ideal schedule. Then what constraints and fair share
 * cost the dispatcher at 1,000 nodes. Simulated time, so the figures do not depend on this
 * machine, except the dispatcher's CPU cost per task, which is measured.
 */

const SLOTS = 4;
const quick = process.argv.includes('--quick');

interface Row {
  nodes: number;
  load: number;
  name: string;
  mean: number;
  p99: number;
  ratio: number;
  usPerTask: number;
}

function mean(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s / a.length;
}

function p99(a: Float64Array): number {
  const s = Float64Array.from(a).sort();
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)] as number;
}

const MODES: Array<{ name: string; policy: PolicyName; periodMs?: number; perPeriod?: number }> = [
  { name: 'least-loaded', policy: 'least-loaded' },
  { name: 'power-of-two', policy: 'power-of-two' },
  { name: 'batch-sampling', policy: 'batch-sampling' },
  { name: 'random', policy: 'random' },
  { name: 'periodic 100 ms', policy: 'least-loaded', periodMs: 100 },
  { name: 'periodic 100 ms, 30/period', policy: 'least-loaded', periodMs: 100, perPeriod: 30 },
];

function run(jobs: SimJob[], nodes: number, opts: Partial<SimOptions>, ideal: number) {
  const r = simulate(jobs, { nodes, slots: SLOTS, policy: 'least-loaded', ...opts });
  const unfinished = r.response.some((v) => v === 0);
  const m = mean(r.response);
  return {
    mean: unfinished ? Infinity : m,
    p99: unfinished ? Infinity : p99(r.response),
    ratio: unfinished ? Infinity : m / ideal,
    usPerTask: (r.dispatchMs * 1000) / Math.max(1, r.placed),
  };
}

function policyTable(): Row[] {
  const rows: Row[] = [];
  for (const nodes of [100, 1000]) {
    for (const load of [0.5, 0.8, 0.9]) {
      const jobs = workload({
        jobs: quick ? 300 : nodes === 100 ? 1500 : 3000,
        slots: nodes * SLOTS,
        load,
      });
      const idealTimes = idealJobResponse(jobs, nodes * SLOTS);
      const ideal = mean(idealTimes);
      rows.push({
        nodes,
        load,
        name: 'ideal',
        mean: ideal,
        p99: p99(idealTimes),
        ratio: 1,
        usPerTask: 0,
      });
      for (const mode of MODES) {
        const r = run(jobs, nodes, mode, ideal);
        rows.push({ nodes, load, name: mode.name, ...r });
        process.stderr.write(`${nodes} nodes ${load * 100}% ${mode.name}: ${r.ratio.toFixed(3)}\n`);
      }
    }
  }
  return rows;
}

function costTable(): string[] {
  const nodes = 1000;
  const jobs = workload({ jobs: quick ? 300 : 3000, slots: nodes * SLOTS, load: 0.8 });
  const ideal = mean(idealJobResponse(jobs, nodes * SLOTS));
  const zones = ['a', 'b', 'c', 'd'];
  const labelled = jobs.map((j, i) => ({ ...j, labels: [`zone=${zones[i % 4]}`] }));
  const tenants = jobs.map((j, i) => ({ ...j, tenant: `t${i % 10}` }));
  const weights = new Map(Array.from({ length: 10 }, (_, i) => [`t${i}`, 1 + (i % 3)]));
  const cases: Array<[string, SimJob[], Partial<SimOptions>]> = [
    ['no constraints, one tenant', jobs, {}],
    [
      'each job needs one of 4 zone labels (4 classes)',
      labelled,
      { nodeLabels: (i) => [`zone=${zones[i % 4]}`] },
    ],
    ['10 tenants, weights 1-3', tenants, { weights }],
  ];
  const out = [
    '| 1,000 nodes, 80% load, least-loaded | dispatcher CPU per task | mean job response / ideal |',
    '| --- | --- | --- |',
  ];
  for (const [name, js, o] of cases) {
    const r = run(js, nodes, o, ideal);
    out.push(`| ${name} | ${r.usPerTask.toFixed(1)} µs | ${r.ratio.toFixed(3)} |`);
  }
  return out;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '∞ (overloaded)');
const rows = policyTable();
const lines = [
  '| nodes | load | policy | mean job response (ms) | p99 (ms) | mean / ideal | dispatcher CPU per task |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map(
    (r) =>
      `| ${r.nodes} | ${r.load * 100}% | ${r.name} | ${fmt(r.mean)} | ${fmt(r.p99)} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(3) : '∞'} | ${r.name === 'ideal' ? '' : `${r.usPerTask.toFixed(1)} µs`} |`,
  ),
  '',
  ...costTable(),
];
process.stdout.write(`${lines.join('\n')}\n`);
