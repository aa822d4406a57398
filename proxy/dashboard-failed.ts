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
    <p class="pager">
      <button type="button" class="secondary" id="failed-newest" hidden>Newest</button>
      <button type="button" class="secondary" id="failed-older" hidden>Older…</button>
    </p>
  </section>
`;

/**
 * The dashboard's failed jobs and retries (browser script): lists the cluster's newest failed
 * jobs (Older… follows the reply's `next`, Newest goes back), and retries one from the list or
 * from the job view (a failed or cancelled job runs again under its ticket). Runs after
 * `JOBS_SCRIPT`, whose `showJob`, `ticketLink`, `getJson`, `say`, `when` and `jobShown` it uses.
 */
export const FAILED_SCRIPT = `
const FAILED_POLL_MS = 3000;
const FAILED_LIMIT = 50;
let failedTimer = 0;
/** The page shown: '' the newest, else the failed jobs older than this ticket. */
let failedBefore = '';
let failedNext = '';

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
    const before = failedBefore ? '&before=' + failedBefore : '';
    const data = await getJson('api/jobs?state=failed&limit=' + FAILED_LIMIT + before);
    const jobs = Array.isArray(data.jobs) ? data.jobs : [];
    failedNext = typeof data.next === 'string' ? data.next : '';
    $('failed-older').hidden = !failedNext;
    $('failed-newest').hidden = !failedBefore;
    const full = jobs.length === FAILED_LIMIT;
    $('failed-count').textContent = failedBefore
      ? jobs.length + ' older'
      : full ? 'newest ' + FAILED_LIMIT : String(jobs.length);
    if (jobs.length === 0) emptyRow($('failed'), 6, failedBefore ? 'No older failed jobs here.' : 'No failed jobs.');
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
$('failed-older').addEventListener('click', () => { failedBefore = failedNext; loadFailed(); });
$('failed-newest').addEventListener('click', () => { failedBefore = ''; loadFailed(); });
tokenSeen.push(loadFailed);
loadFailed();
`;
