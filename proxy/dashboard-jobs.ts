/**
 * The dashboard's job search (browser script): find a job by ticket and read its result,
 * following it until it ends. Runs after `LIVE_SCRIPT`, whose `$` and `el` it uses, and
 * `TOKEN_SCRIPT`, whose `authHeaders`, `needToken` and `tokenSeen` it uses.
 */
export const JOBS_SCRIPT = `
const TICKET_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const TERMINAL = ['done', 'failed', 'cancelled'];
const JOB_POLL_MS = 500;
let shownTicket = null;
let jobTimer = 0;
/** The output shown is the node's log, not the result's copy. */
let logShown = false;
/** Called with each job shown (the failed-jobs view adds its Retry button). */
const jobShown = [];

/** Tickets are Crockford base32: I and L read as 1, O as 0, any case. */
function canonical(text) {
  return text.trim().toUpperCase().replace(/[IL]/g, '1').replace(/O/g, '0');
}

function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

function duration(from, to) {
  if (!from || !to) return '–';
  const ms = new Date(to).getTime() - new Date(from).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '–';
  return ms < 1000 ? ms + ' ms' : ms < 60000 ? (ms / 1000).toFixed(2) + ' s' : (ms / 60000).toFixed(1) + ' min';
}

async function getJson(url, init) {
  const options = Object.assign({ cache: 'no-store' }, init || {});
  options.headers = Object.assign({}, authHeaders(), options.headers || {});
  const res = await fetch(url, options);
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) {
    const message = body && body.error && body.error.message ? body.error.message : 'HTTP ' + res.status;
    const err = new Error(message);
    err.status = res.status;
    if (res.status === 401 || res.status === 403) needToken(err);
    throw err;
  }
  return body;
}

function say(text, isError) {
  const note = $('job-message');
  note.textContent = text;
  note.className = 'note' + (isError ? ' error-text' : '');
}

/** One argument as a shell would need it typed: quoted when it has a blank or a quote in it. */
function shellWord(w) {
  if (w !== '' && /^[A-Za-z0-9_./:=@%+,-]+$/.test(w)) return w;
  return '"' + w.replace(/["\\\\$\`]/g, (c) => '\\\\' + c) + '"';
}

/**
 * A job as typed after SUBMIT: its type, then its arguments, each quoted as it needs (echo's
 * are the text it prints, joined by spaces either way, so they stay as they are).
 */
function jobText(v) {
  const args = (v.args || []).filter((x) => x !== undefined).map((x) => (v.type === 'echo' ? String(x) : shellWord(String(x))));
  return [v.type].concat(args).join(' ');
}

function field(dl, label, value, key) {
  const dd = el('dd', { 'data-field': key }, value === undefined || value === null || value === '' ? '–' : value);
  dl.append(el('dt', {}, label), dd);
}

function renderJob(v) {
  $('job').hidden = false;
  $('job-ticket').textContent = v.ticket;
  $('job-state').textContent = v.state;
  $('job-state').className = 'pill ' + v.state;
  const dl = $('job-fields');
  dl.replaceChildren();
  field(dl, 'Job', jobText(v), 'job');
  if (v.tenant) field(dl, 'Tenant', v.tenant, 'tenant');
  field(dl, 'Node', v.node, 'node');
  field(dl, 'Attempts', v.attempts, 'attempts');
  field(dl, 'Exit code', v.exitCode, 'exitCode');
  field(dl, 'Submitted', when(v.submittedAt), 'submittedAt');
  field(dl, 'Started', when(v.startedAt), 'startedAt');
  field(dl, 'Finished', when(v.finishedAt), 'finishedAt');
  field(dl, 'Run time', duration(v.startedAt, v.finishedAt), 'runTime');
  if (v.error) field(dl, 'Error', v.error, 'error');
  if (v.waiting) field(dl, 'Waiting', v.waiting, 'waiting');
  if (v.cron) field(dl, 'Schedule', v.cron + (v.tz ? ' (' + v.tz + ')' : ''), 'cron');
  if (v.next !== undefined) field(dl, 'Next run', when(v.next), 'next');
  if (v.skipped) field(dl, 'Skipped', v.skipped + ' firings (the previous run had not started)', 'skipped');
  if (v.runAt) field(dl, 'Runs at', when(v.runAt), 'runAt');
  if (v.key) field(dl, 'Key', v.key, 'key');
  if (v.after) field(dl, 'After', v.after.join(' '), 'after');
  if (v.progress) {
    const p = v.progress;
    field(dl, 'Progress', p.done + ' of ' + p.total + ' done, ' + p.failed + ' failed, ' + p.running + ' running', 'progress');
  }
  renderDetail(v);
  const done = TERMINAL.includes(v.state);
  if (!logShown) {
    $('job-output').textContent = v.cron ? '(a schedule prints nothing: each of its runs is a job, listed above)' : done ? (v.output === undefined || v.output === '' ? '(no output)' : v.output) : '(not finished yet)';
  }
  for (const hook of jobShown) hook(v);
}

function size(bytes) {
  return bytes < 1024 ? bytes + ' bytes' : bytes < 1048576 ? (bytes / 1024).toFixed(1) + ' KiB' : (bytes / 1048576).toFixed(1) + ' MiB';
}

/** Replaces the result's output (its head and tail) with the log the node that ran it keeps. */
async function loadLog(v) {
  if (v.tasks || v.cron) return; // each task's output is in the task table; a schedule's runs have their own
  try {
    const log = await getJson('api/jobs/' + v.ticket + '/logs');
    if (shownTicket !== v.ticket) return;
    if (log.source !== 'log') {
      // no log after all (a sleep): the result's output stands
      if (logShown) {
        logShown = false;
        $('job-output-note').textContent = '';
        renderJob(v);
      }
      return;
    }
    logShown = true;
    $('job-output').textContent = log.text || (log.live ? '(no output yet)' : '(no output)');
    $('job-output-note').textContent = log.shown < log.size
      ? 'The first ' + size(log.shown) + ' of ' + size(log.size) + ', from the log on ' + log.node + '; petrel logs ' + v.ticket + ' prints all of it.'
      : 'All ' + size(log.size) + ', from the log on ' + log.node + (log.live ? ', still running.' : '.');
  } catch (err) {
    if (shownTicket === v.ticket) $('job-output-note').textContent = 'The log cannot be read now (' + err.message + '); this is what the result keeps.';
  }
}

/** A small table under a heading; each row is a list of cells (text or nodes). */
function table(title, head, rows) {
  const wrap = el('div', { class: 'table-wrap' });
  const t = el('table', {});
  const tr = el('tr', {});
  for (const h of head) tr.append(el('th', { scope: 'col' }, h));
  const thead = el('thead', {});
  thead.append(tr);
  const tbody = el('tbody', {});
  for (const cells of rows) {
    const row = el('tr', {});
    for (const c of cells) {
      const td = el('td', typeof c === 'string' && c.length > 40 ? { class: 'wrap' } : {});
      if (c instanceof Node) td.append(c); else td.textContent = c === undefined || c === null || c === '' ? '–' : String(c);
      row.append(td);
    }
    tbody.append(row);
  }
  t.append(thead, tbody);
  wrap.append(t);
  const box = el('div', { 'data-detail': title });
  box.append(el('h3', {}, title), wrap);
  return box;
}

function ticketLink(ticket) {
  const b = el('button', { type: 'button', class: 'link mono', 'aria-label': 'Show job ' + ticket }, ticket);
  b.addEventListener('click', () => { $('ticket').value = ticket; showJob(ticket); });
  return b;
}

/** The runs of a job (or of a schedule) and the tasks of a job of many tasks. */
function renderDetail(v) {
  const parts = [];
  if (Array.isArray(v.runs) && v.runs.length) {
    if (v.runs.some((r) => r.ticket)) {
      parts.push(table('Runs', ['Ticket', 'State'], v.runs.map((r) => [r.ticket ? ticketLink(r.ticket) : '–', r.state])));
    } else {
      parts.push(table('Runs', ['Attempt', 'Node', 'Exit code', 'Error', 'Started', 'Finished'],
        v.runs.map((r) => [r.attempt, r.node, r.exitCode, r.error, when(r.startedAt), when(r.finishedAt)])));
    }
  }
  if (Array.isArray(v.tasks) && v.tasks.length) {
    parts.push(table('Tasks', ['Task', 'State', 'Node', 'Exit code', 'Error', 'Output'],
      v.tasks.map((x) => [String(x.index), x.state, x.node, x.exitCode, x.error, x.output])));
  }
  $('job-detail').replaceChildren(...parts);
}

async function showJob(text, quiet) {
  const ticket = canonical(text);
  clearTimeout(jobTimer);
  if (!TICKET_RE.test(ticket)) {
    $('job').hidden = true;
    say('That is not a ticket: a ticket is 26 characters of 0-9 and A-Z.', true);
    return;
  }
  if (!quiet) say('Looking up ' + ticket + '…', false);
  try {
    const v = await getJson('api/jobs/' + ticket);
    if (shownTicket !== ticket) {
      logShown = false;
      $('job-output-note').textContent = '';
    }
    shownTicket = ticket;
    if (!quiet) $('ticket').value = ticket;
    if (location.hash !== '#ticket=' + ticket) history.replaceState(null, '', '#ticket=' + ticket);
    renderJob(v);
    loadLog(v);
    say(TERMINAL.includes(v.state) ? '' : 'The job is ' + v.state + '; this view follows it.', false);
    if (!TERMINAL.includes(v.state)) jobTimer = setTimeout(() => showJob(ticket, true), JOB_POLL_MS);
  } catch (err) {
    if (!quiet) $('job').hidden = true;
    say(err.status === 404 ? 'No job with ticket ' + ticket + ' is known to the cluster.' : 'Could not read the job: ' + err.message, true);
  }
}

$('search').addEventListener('submit', (e) => {
  e.preventDefault();
  showJob($('ticket').value);
});
tokenSeen.push(() => { if ($('ticket').value) showJob($('ticket').value, true); });
const linked = /^#ticket=(.+)$/.exec(location.hash);
if (linked) {
  $('ticket').value = decodeURIComponent(linked[1]);
  showJob($('ticket').value);
}
`;
