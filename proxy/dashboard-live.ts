/**
 * The dashboard's live view (browser script): loads the proxy's recent history, then polls
 * `api/cluster` and draws totals, each node's queue length over time and the node table.
 * Every piece of data reaches the DOM through `textContent` or attributes, never as HTML.
 */
export const LIVE_SCRIPT = `
const POLL_MS = 500;
const REQUEST_TIMEOUT_MS = 3000;
const KEEP_MS = 15 * 60000;
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#17becf'];
const SVG_NS = 'http://www.w3.org/2000/svg';
const colors = new Map();
let windowMs = 120000;
let samples = []; // { t, global, nodes: Map(id -> queued + running) }, oldest first
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
  const tenants = Array.isArray(data.tenants)
    ? data.tenants.filter((x) => x && typeof x.name === 'string').map((x) => ({
        name: x.name, weight: num(x.weight), queued: num(x.queued), outstanding: num(x.outstanding),
      }))
    : [];
  const g = data.group && typeof data.group === 'object' ? data.group : undefined;
  return {
    time: num(data.time) || Date.now(),
    policy: typeof data.policy === 'string' ? data.policy : '–',
    // in a proxy group: whether this proxy leads, and who does
    group: g ? { role: g.role === 'leader' ? 'leader' : 'follower', leader: typeof g.leader === 'string' ? g.leader : null } : undefined,
    queue: { queued: num(q.queued), assigned: num(q.assigned), running: num(q.running) },
    totals: Object.fromEntries(['submitted', 'done', 'failed', 'cancelled', 'lost', 'duplicates'].map((k) => [k, num(totals[k])])),
    nodes,
    tenants,
  };
}

function addSample(t, global, nodes) {
  for (const id of nodes.keys()) colorOf(id);
  if (samples.length && t <= samples[samples.length - 1].t) return;
  samples.push({ t, global, nodes });
  while (samples.length && samples[0].t < t - KEEP_MS) samples.shift();
}

function record(c) {
  const nodes = new Map();
  for (const n of c.nodes) if (n.connected) nodes.set(n.id, n.queued + n.running);
  addSample(c.time, c.queue.queued, nodes);
}

async function loadHistory() {
  try {
    const res = await fetch('api/history', { cache: 'no-store' });
    if (!res.ok) return;
    const data = await res.json();
    for (const s of Array.isArray(data.samples) ? data.samples : []) {
      if (!s || typeof s.t !== 'number') continue;
      const nodes = new Map();
      for (const [id, v] of Object.entries(s.nodes || {})) nodes.set(id, num(v));
      addSample(s.t, num(s.queued), nodes);
    }
  } catch {
    // the live polls fill the chart from now on
  }
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

function emptyRow(tbody, cols, text) {
  const row = el('tr', {});
  row.append(el('td', { colspan: cols, class: 'empty' }, text));
  tbody.replaceChildren(row);
}

function renderTable(c) {
  if (c.nodes.length === 0) return emptyRow($('nodes'), 8, 'No nodes have joined yet.');
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

/** Shown once a job named a tenant: until then every job is the default tenant's. */
function renderTenants(c) {
  const named = c.tenants.some((x) => x.name !== 'default');
  $('tenants-section').hidden = !named;
  if (!named) return;
  const rows = [...c.tenants].sort((a, b) => a.name.localeCompare(b.name)).map((x) => {
    const row = el('tr', { 'data-tenant': x.name });
    row.append(el('td', {}, x.name), el('td', {}, x.weight), el('td', {}, x.queued), el('td', {}, x.outstanding));
    return row;
  });
  $('tenants').replaceChildren(...rows);
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

function timeLabel(s) {
  if (s === 0) return 'now';
  return s < 60 ? '-' + s + 's' : '-' + s / 60 + 'min';
}

function renderChart(c) {
  const svg = $('chart');
  const w = Math.max(200, svg.clientWidth);
  const h = Math.max(120, svg.clientHeight);
  const m = { l: 34, r: 10, t: 8, b: 20 };
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  const shown = samples.filter((s) => s.t >= c.time - windowMs && s.t <= c.time);
  let peak = 0;
  for (const s of shown) {
    peak = Math.max(peak, s.global);
    for (const v of s.nodes.values()) peak = Math.max(peak, v);
  }
  const top = niceMax(peak);
  const x = (t) => m.l + (w - m.l - m.r) * (1 - (c.time - t) / windowMs);
  const y = (v) => h - m.b - (h - m.t - m.b) * (v / top);
  const parts = [];
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    parts.push(el('svg:line', { class: 'grid', x1: m.l, x2: w - m.r, y1: y(v), y2: y(v) }));
    parts.push(el('svg:text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  const span = windowMs / 1000;
  const step = span / (w < 480 ? 2 : 4);
  for (let s = span; s >= 0; s -= step) {
    parts.push(el('svg:text', { x: x(c.time - s * 1000), y: h - 4, 'text-anchor': s === span ? 'start' : s === 0 ? 'end' : 'middle' }, timeLabel(s)));
  }
  parts.push(el('svg:path', { class: 'series global', 'data-series': 'global', d: pathOf(shown.map((s) => [x(s.t), y(s.global)])) }));
  for (const id of colors.keys()) {
    const pts = shown.map((s) => (s.nodes.has(id) ? [x(s.t), y(s.nodes.get(id))] : null));
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
  renderTenants(c);
  renderChart(c);
}

/** A leader's dashboard, from the URL nodes reach it at (ws://host:port/cluster). */
function dashboardOf(url) {
  const base = url.endsWith('/cluster') ? url.slice(0, -'cluster'.length) : url;
  return base.replace(/^ws/, 'http');
}

/** A follower's page: it has no numbers of its own, so it says where the cluster's are. */
function followerNote(group) {
  if (!group || group.role !== 'follower') return undefined;
  const note = el('span', {}, 'This proxy is a follower in a proxy group: it dispatches nothing, so its numbers are empty. ');
  if (!group.leader) {
    note.append('No proxy leads right now (etcd is away, or a takeover is under way); nodes keep taking jobs.');
    return note;
  }
  const link = el('a', { href: dashboardOf(group.leader) }, dashboardOf(group.leader));
  note.append('The leader is ', link, '.');
  return note;
}

function setStatus(ok, message, group) {
  const follower = ok ? followerNote(group) : undefined;
  $('status').className = 'pill ' + (ok && !follower ? 'live' : 'down');
  $('status').textContent = ok ? (follower ? (group.leader ? 'follower' : 'no leader') : 'live') : 'offline';
  $('banner').className = ok && !follower ? '' : 'show';
  if (follower) $('banner').replaceChildren(follower);
  else $('banner').textContent = ok ? '' : message;
  $('content').className = ok && !follower ? '' : 'stale';
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
    setStatus(true, '', c.group);
  } catch (err) {
    const why = err && err.name === 'AbortError' ? 'no answer within ' + REQUEST_TIMEOUT_MS / 1000 + ' s' : String(err && err.message ? err.message : err);
    const since = lastGoodAt ? ' Showing data from ' + new Date(lastGoodAt).toLocaleTimeString() + '.' : '';
    setStatus(false, 'Cannot reach the proxy API (' + why + ').' + since + ' Retrying…');
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

for (const input of document.querySelectorAll('input[name="window"]')) {
  input.addEventListener('change', () => {
    windowMs = Number(input.value);
    $('chart-title').textContent = 'Queue length per node (queued + running), last ' + (windowMs < 60000 * 5 ? '2 minutes' : '15 minutes');
    if (lastGood) renderChart(lastGood);
  });
}
window.addEventListener('resize', () => { if (lastGood) renderChart(lastGood); });
loadHistory().then(poll);
`;
