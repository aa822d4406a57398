/**
 * The proxy's live dashboard: one self-contained page (no external assets, so it works on an
 * air-gapped cluster) that polls `/api/cluster` and draws nodes, totals and queue lengths.
 * The page builds every piece of data into the DOM with `textContent`, never as HTML.
 */

const STYLE = `
:root {
  --bg: #f6f7f9; --card: #fff; --text: #1d2330; --muted: #667085; --line: #e4e7ec;
  --ok: #12805c; --bad: #c4320a; --bad-bg: #fef3f2; --grid: #eef0f3;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217; --card: #171b22; --text: #e6e8eb; --muted: #98a2b3; --line: #2a303b;
    --ok: #3ccb8f; --bad: #ff8266; --bad-bg: #2a1714; --grid: #222833;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 16px; margin-bottom: 12px; }
h1 { font-size: 20px; margin: 0; letter-spacing: .02em; }
h2 { font-size: 14px; margin: 0 0 8px; color: var(--muted); font-weight: 600; }
.meta { color: var(--muted); font-size: 13px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.pill.live { background: color-mix(in srgb, var(--ok) 15%, transparent); color: var(--ok); }
.pill.down { background: var(--bad-bg); color: var(--bad); }
#banner {
  display: none; margin-bottom: 12px; padding: 10px 12px; border-radius: 8px;
  background: var(--bad-bg); color: var(--bad); border: 1px solid color-mix(in srgb, var(--bad) 40%, transparent);
}
#banner.show { display: block; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(96px, 1fr)); gap: 8px; margin-bottom: 12px; }
.card, section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
.card { padding: 8px 12px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
section { padding: 12px; margin-bottom: 12px; }
#chart { display: block; width: 100%; height: 240px; }
#chart text { fill: var(--muted); font-size: 11px; }
#chart .grid { stroke: var(--grid); stroke-width: 1; }
#chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
#chart .global { stroke: var(--muted); stroke-dasharray: 5 4; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 6px; font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.swatch.dashed { width: 16px; background: repeating-linear-gradient(90deg, var(--muted) 0 4px, transparent 4px 6px); }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
tr.off td { color: var(--muted); }
.status-on { color: var(--ok); font-weight: 600; }
.status-off { color: var(--bad); font-weight: 600; }
.empty { color: var(--muted); text-align: center; padding: 16px; }
.stale { opacity: .6; }
@media (max-width: 560px) {
  main { padding: 10px; }
  #chart { height: 180px; }
  .card .value { font-size: 18px; }
  th, td { padding: 5px 6px; }
}
`;

const BODY = `
<main>
  <header>
    <h1>Petrel</h1>
    <span id="status" class="pill down">connecting…</span>
    <span class="meta">policy <b id="policy">–</b></span>
    <span class="meta" id="updated"></span>
  </header>
  <div id="banner" role="alert"></div>
  <div id="content">
    <div class="cards" id="cards"></div>
    <section>
      <h2>Queue length per node (queued + running), last 2 minutes</h2>
      <svg id="chart" role="img" aria-label="Queue length per node over the last two minutes"></svg>
      <div class="legend" id="legend"></div>
    </section>
    <section>
      <h2>Nodes</h2>
      <div class="table-wrap">
        <table>
          <thead><tr>
            <th>Node</th><th>Status</th><th>Slots</th><th>Queued</th><th>Running</th>
            <th>Free</th><th>Done</th><th>Last seen</th>
          </tr></thead>
          <tbody id="nodes"><tr><td colspan="8" class="empty">Waiting for data…</td></tr></tbody>
        </table>
      </div>
    </section>
  </div>
</main>
`;

const SCRIPT = `
'use strict';
const POLL_MS = 500;
const REQUEST_TIMEOUT_MS = 3000;
const WINDOW_MS = 120000;
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#17becf'];
const SVG_NS = 'http://www.w3.org/2000/svg';
const colors = new Map();
let samples = []; // { t, global, nodes: Map(id -> queued + running) }
let lastGood = null;
let lastGoodAt = 0;

const $ = (id) => document.getElementById(id);
const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

function colorOf(id) {
  if (!colors.has(id)) {
    const i = colors.size;
    colors.set(id, i < PALETTE.length ? PALETTE[i] : 'hsl(' + ((i * 137.5) % 360) + ' 60% 50%)');
  }
  return colors.get(id);
}

function el(tag, attrs, text) {
  const node = tag.startsWith('svg:') ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function parse(data) {
  if (!data || typeof data !== 'object' || !Array.isArray(data.nodes)) throw new Error('unexpected response from the proxy');
  const nodes = data.nodes
    .filter((n) => n && typeof n.id === 'string')
    .map((n) => ({
      id: n.id, connected: n.connected === true, slots: num(n.slots), queued: num(n.queued),
      running: num(n.running), free: num(n.free), done: num(n.done), lastSeen: num(n.lastSeen),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const q = data.queue || {};
  const totals = data.totals || {};
  return {
    time: num(data.time) || Date.now(),
    policy: typeof data.policy === 'string' ? data.policy : '–',
    queue: { queued: num(q.queued), assigned: num(q.assigned), running: num(q.running) },
    totals: Object.fromEntries(['submitted', 'done', 'failed', 'cancelled', 'lost', 'duplicates'].map((k) => [k, num(totals[k])])),
    nodes,
  };
}

function record(c) {
  const nodes = new Map();
  for (const n of c.nodes) {
    colorOf(n.id);
    nodes.set(n.id, n.queued + n.running);
  }
  samples.push({ t: c.time, global: c.queue.queued, nodes });
  samples = samples.filter((s) => s.t >= c.time - WINDOW_MS && s.t <= c.time);
}

function renderCards(c) {
  const connected = c.nodes.filter((n) => n.connected);
  const slots = connected.reduce((a, n) => a + n.slots, 0);
  const busy = connected.reduce((a, n) => a + n.running, 0);
  const cards = [
    ['Nodes up', connected.length + ' / ' + c.nodes.length],
    ['Running / slots', busy + ' / ' + slots],
    ['Global queue', c.queue.queued],
    ['Assigned', c.queue.assigned],
    ['Submitted', c.totals.submitted],
    ['Done', c.totals.done],
    ['Failed', c.totals.failed],
    ['Cancelled', c.totals.cancelled],
    ['Lost', c.totals.lost],
    ['Duplicates', c.totals.duplicates],
  ];
  $('cards').replaceChildren(...cards.map(([label, value]) => {
    const card = el('div', { class: 'card', 'data-card': label });
    card.append(el('div', { class: 'label' }, label), el('div', { class: 'value' }, value));
    return card;
  }));
}

function ago(ms) {
  if (ms < 1000) return 'now';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s ago';
  return Math.round(ms / 60000) + ' min ago';
}

function renderTable(c) {
  if (c.nodes.length === 0) {
    $('nodes').replaceChildren(el('tr', {}));
    $('nodes').firstChild.append(el('td', { colspan: 8, class: 'empty' }, 'No nodes have joined yet.'));
    return;
  }
  $('nodes').replaceChildren(...c.nodes.map((n) => {
    const row = el('tr', { 'data-node': n.id, class: n.connected ? '' : 'off' });
    const name = el('td', {});
    name.append(el('span', { class: 'swatch', style: 'background:' + colorOf(n.id) }), document.createTextNode(n.id));
    const status = el('td', {});
    status.append(el('span', { class: n.connected ? 'status-on' : 'status-off' }, n.connected ? '● connected' : '○ disconnected'));
    row.append(name, status);
    for (const v of [n.slots, n.queued, n.running, n.free, n.done]) row.append(el('td', {}, v));
    row.append(el('td', {}, n.lastSeen ? ago(c.time - n.lastSeen) : '–'));
    return row;
  }));
}

function niceMax(v) {
  if (v <= 4) return 4;
  const step = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * step) return m * step;
  return 10 * step;
}

function pathOf(points) {
  let d = '';
  let pen = 'M';
  for (const p of points) {
    if (p === null) { pen = 'M'; continue; }
    d += pen + p[0].toFixed(1) + ' ' + p[1].toFixed(1) + ' ';
    pen = 'L';
  }
  return d.trim();
}

function renderChart(c) {
  const svg = $('chart');
  const w = Math.max(200, svg.clientWidth);
  const h = Math.max(120, svg.clientHeight);
  const m = { l: 34, r: 10, t: 8, b: 20 };
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  const ids = [...colors.keys()];
  let peak = 0;
  for (const s of samples) {
    peak = Math.max(peak, s.global);
    for (const v of s.nodes.values()) peak = Math.max(peak, v);
  }
  const top = niceMax(peak);
  const x = (t) => m.l + (w - m.l - m.r) * (1 - (c.time - t) / WINDOW_MS);
  const y = (v) => h - m.b - (h - m.t - m.b) * (v / top);
  const parts = [];
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    parts.push(el('svg:line', { class: 'grid', x1: m.l, x2: w - m.r, y1: y(v), y2: y(v) }));
    parts.push(el('svg:text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  const labelStep = w < 480 ? 60 : 30;
  for (let s = 120; s >= 0; s -= labelStep) {
    parts.push(el('svg:text', { x: x(c.time - s * 1000), y: h - 4, 'text-anchor': s === 120 ? 'start' : s === 0 ? 'end' : 'middle' }, s === 0 ? 'now' : '-' + s + 's'));
  }
  const globalPts = samples.map((s) => [x(s.t), y(s.global)]);
  parts.push(el('svg:path', { class: 'series global', 'data-series': 'global', d: pathOf(globalPts) }));
  for (const id of ids) {
    const pts = samples.map((s) => (s.nodes.has(id) ? [x(s.t), y(s.nodes.get(id))] : null));
    if (pts.every((p) => p === null)) continue;
    parts.push(el('svg:path', { class: 'series', 'data-node': id, stroke: colorOf(id), d: pathOf(pts) }));
  }
  svg.replaceChildren(...parts);
  renderLegend(c);
}

function renderLegend(c) {
  const items = [el('span', {})];
  items[0].append(el('span', { class: 'swatch dashed' }), document.createTextNode('global queue ' + c.queue.queued));
  for (const n of c.nodes) {
    const item = el('span', { 'data-legend': n.id });
    item.append(el('span', { class: 'swatch', style: 'background:' + colorOf(n.id) }), document.createTextNode(n.id + ' ' + (n.queued + n.running)));
    items.push(item);
  }
  $('legend').replaceChildren(...items);
}

function render(c) {
  $('policy').textContent = c.policy;
  renderCards(c);
  renderTable(c);
  renderChart(c);
}

function setStatus(ok, message) {
  $('status').className = 'pill ' + (ok ? 'live' : 'down');
  $('status').textContent = ok ? 'live' : 'offline';
  $('banner').className = ok ? '' : 'show';
  $('banner').textContent = ok ? '' : message;
  $('content').className = ok ? '' : 'stale';
  $('updated').textContent = lastGoodAt ? 'updated ' + new Date(lastGoodAt).toLocaleTimeString() : '';
}

async function poll() {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch('api/cluster', { cache: 'no-store', signal: ac.signal });
    if (!res.ok) throw new Error('HTTP ' + res.status + ' ' + res.statusText);
    const c = parse(await res.json());
    lastGood = c;
    lastGoodAt = Date.now();
    record(c);
    render(c);
    setStatus(true, '');
  } catch (err) {
    const why = err && err.name === 'AbortError' ? 'no answer within ' + REQUEST_TIMEOUT_MS / 1000 + ' s' : String(err && err.message ? err.message : err);
    const since = lastGoodAt ? ' Showing data from ' + new Date(lastGoodAt).toLocaleTimeString() + '.' : '';
    setStatus(false, 'Cannot reach the proxy API (' + why + ').' + since + ' Retrying…');
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

window.addEventListener('resize', () => { if (lastGood) renderChart(lastGood); });
poll();
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Petrel cluster</title>
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;

/**
 * The dashboard served at `/` on the proxy port: self-contained HTML that polls
 * `api/cluster` every 500 ms and shows nodes, totals and each node's queue length over time.
 */
export function dashboardHtml(): string {
  return PAGE;
}
