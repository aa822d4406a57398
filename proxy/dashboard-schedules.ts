/** The active schedules: a table above the failed jobs. */
export const SCHEDULES_SECTION = `
  <section aria-labelledby="schedules-title">
    <h2 id="schedules-title">Schedules (<span id="schedules-count">…</span>)</h2>
    <div class="table-wrap">
      <table>
        <thead><tr>
          <th scope="col">Ticket</th><th scope="col">Job</th><th scope="col">Cron</th>
          <th scope="col">Next firing</th><th scope="col">Newest runs</th>
          <th scope="col" title="Firings skipped while the previous run still waited to run, since the proxy started">Skipped</th>
        </tr></thead>
        <tbody id="schedules"><tr><td colspan="6" class="empty">Loading…</td></tr></tbody>
      </table>
    </div>
  </section>
`;

/**
 * The dashboard's schedules and cancels (browser script): the cluster's active schedules, the
 * soonest to fire first, each with its cron and zone, next firing and newest runs (a run's
 * state links to it); and Cancel on a job or schedule shown that has not ended, asked first.
 * Runs after `JOBS_SCRIPT`, whose `ticketLink`, `getJson`, `jobText`, `when`, `showJob`, `say`,
 * `shownTicket`, `TERMINAL` and `jobShown` it uses.
 */
export const SCHEDULES_SCRIPT = `
const SCHEDULES_POLL_MS = 5000;
const SCHEDULES_LIMIT = 100;
let schedulesTimer = 0;

function runPill(r) {
  const b = el('button', { type: 'button', class: 'pill ' + r.state, title: r.ticket + ': ' + r.state, 'aria-label': 'Show run ' + r.ticket + ' (' + r.state + ')' }, r.state);
  b.addEventListener('click', () => { $('ticket').value = r.ticket; showJob(r.ticket); });
  return b;
}

function scheduleRow(v) {
  const row = el('tr', { 'data-ticket': v.ticket });
  const ticketCell = el('td', {});
  ticketCell.append(ticketLink(v.ticket));
  const cron = el('td', { class: 'mono' }, v.cron + (v.tz && v.tz !== 'UTC' ? ' (' + v.tz + ')' : ''));
  const runs = el('td', { class: 'runs' });
  const list = Array.isArray(v.runs) ? v.runs : [];
  if (list.length) runs.append(...list.map(runPill)); else runs.textContent = 'none yet';
  row.append(ticketCell, el('td', { class: 'wrap' }, jobText(v)), cron, el('td', {}, when(v.next)), runs);
  row.append(el('td', {}, String(v.skipped || 0)));
  return row;
}

async function loadSchedules() {
  clearTimeout(schedulesTimer);
  try {
    const data = await getJson('api/schedules?limit=' + SCHEDULES_LIMIT);
    const list = Array.isArray(data.schedules) ? data.schedules : [];
    const total = typeof data.total === 'number' ? data.total : list.length;
    $('schedules-count').textContent = total > list.length ? 'soonest ' + list.length + ' of ' + total : String(total);
    if (list.length === 0) emptyRow($('schedules'), 6, 'No schedules. A job with cron is one: petrel submit --cron "0 3 * * *" ...');
    else $('schedules').replaceChildren(...list.map(scheduleRow));
  } catch (err) {
    $('schedules-count').textContent = '–';
    emptyRow($('schedules'), 6, 'Could not list the schedules: ' + err.message);
  } finally {
    schedulesTimer = setTimeout(loadSchedules, SCHEDULES_POLL_MS);
  }
}

async function cancelShown(button) {
  const ticket = shownTicket;
  if (!ticket) return;
  if (!confirm('Cancel ' + ticket + '? A schedule stops firing; a running job is stopped.')) return;
  button.disabled = true;
  try {
    const v = await getJson('api/jobs/' + ticket + '/cancel', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await showJob(ticket, true);
    say(v.state === 'cancelled' ? 'Cancelled: ' + ticket + '.' : 'Cancel sent: ' + ticket + ' stops on its node.', false);
    loadSchedules();
  } catch (err) {
    say('Could not cancel ' + ticket + ': ' + err.message, true);
  } finally {
    button.disabled = false;
  }
}

const cancelButton = el('button', { type: 'button', class: 'secondary', id: 'job-cancel', hidden: '' }, 'Cancel');
cancelButton.addEventListener('click', () => cancelShown(cancelButton));
document.querySelector('.job-head').append(cancelButton);
jobShown.push((v) => { cancelButton.hidden = TERMINAL.includes(v.state); });
tokenSeen.push(loadSchedules);
loadSchedules();
`;
