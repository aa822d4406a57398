/** The failed jobs: a table under the job search. */
export const FAILED_SECTION = `
  <section aria-labelledby="failed-title">
    <h2 id="failed-title">Failed jobs (<span id="failed-count">…</span>)</h2>
    <div class="table-wrap">
      <table>
        <thead><tr>
          <th scope="col">Ticket</th><th scope="col">Job</th><th scope="col">Error</th>
          <th scope="col">Node</th><th scope="col">Finished</th><th scope="col">Action</th>
        </tr></thead>
        <tbody id="failed"><tr><td colspan="6" class="empty">Loading…</td></tr></tbody>
      </table>
    </div>
  </section>
`;

/**
 * The dashboard's failed jobs and retries (browser script): lists the cluster's newest failed
 * jobs, and retries one from the list or from the job view (a failed or cancelled job runs
 * again under its ticket). Runs after `JOBS_SCRIPT`, whose `showJob`, `ticketLink`, `getJson`,
 * `say`, `when` and `jobShown` it uses.
 */
export const FAILED_SCRIPT = `
const FAILED_POLL_MS = 3000;
const FAILED_LIMIT = 50;
let failedTimer = 0;

async function retry(ticket, button) {
  button.disabled = true;
  try {
    await getJson('api/jobs/' + ticket + '/retry', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    $('ticket').value = ticket;
    await showJob(ticket, true);
    say('Retried: ' + ticket + ' runs again under the same ticket.', false);
    loadFailed();
  } catch (err) {
    button.disabled = false;
    say('Could not retry ' + ticket + ': ' + err.message, true);
  }
}

function failedRow(v) {
  const row = el('tr', { 'data-ticket': v.ticket });
  const ticketCell = el('td', {});
  ticketCell.append(ticketLink(v.ticket));
  const job = jobText(v);
  const why = v.error || (v.exitCode !== undefined ? 'exit code ' + v.exitCode : '–');
  row.append(ticketCell, el('td', { class: 'wrap' }, job), el('td', { class: 'wrap' }, why));
  row.append(el('td', {}, v.node || '–'), el('td', {}, when(v.finishedAt)));
  const action = el('td', {});
  const button = el('button', { type: 'button', class: 'secondary', 'aria-label': 'Retry job ' + v.ticket }, 'Retry');
  button.addEventListener('click', () => retry(v.ticket, button));
  action.append(button);
  row.append(action);
  return row;
}

async function loadFailed() {
  clearTimeout(failedTimer);
  try {
    const data = await getJson('api/jobs?state=failed&limit=' + FAILED_LIMIT);
    const jobs = Array.isArray(data.jobs) ? data.jobs : [];
    $('failed-count').textContent = jobs.length === FAILED_LIMIT ? 'newest ' + FAILED_LIMIT : String(jobs.length);
    if (jobs.length === 0) emptyRow($('failed'), 6, 'No failed jobs.');
    else $('failed').replaceChildren(...jobs.map(failedRow));
  } catch (err) {
    $('failed-count').textContent = '–';
    emptyRow($('failed'), 6, 'Could not list the failed jobs: ' + err.message);
  } finally {
    failedTimer = setTimeout(loadFailed, FAILED_POLL_MS);
  }
}

const retryButton = el('button', { type: 'button', id: 'job-retry', hidden: '' }, 'Retry');
retryButton.addEventListener('click', () => { if (shownTicket) retry(shownTicket, retryButton); });
document.querySelector('.job-head').append(retryButton);
jobShown.push((v) => {
  retryButton.hidden = !(v.state === 'failed' || v.state === 'cancelled');
  retryButton.disabled = false;
});
tokenSeen.push(loadFailed);
loadFailed();
`;
