/**
 * The dashboard's token (`DASHBOARD_TOKEN`, see `job-access.ts`), shown when the proxy asks for
 * it: a form above the job search. The page keeps the token for the tab's life only
 * (`sessionStorage`) and sends it as `Authorization: Bearer` with every job request.
 */
export const TOKEN_SECTION = `
  <section aria-labelledby="token-title" id="token-section" hidden>
    <h2 id="token-title">Jobs need a token</h2>
    <p id="token-note" class="note" role="status"></p>
    <form class="search" id="token-form">
      <label for="token">Dashboard token</label>
      <input id="token" class="ticket" name="token" type="password" autocomplete="current-password"
        spellcheck="false" maxlength="1000">
      <button type="submit">Use</button>
    </form>
  </section>
`;

/**
 * The browser's side: `authHeaders()` for `getJson`, `needToken(err)` when a job request was
 * refused (401: ask for the token; 403: say what the operator must set), and `tokenSeen`,
 * the callbacks that load again once a token is entered. Runs after `LIVE_SCRIPT` (its `$`),
 * before `JOBS_SCRIPT`.
 */
export const TOKEN_SCRIPT = `
const TOKEN_KEY = 'petrel-dashboard-token';
const tokenSeen = [];
let dashboardToken = '';
try { dashboardToken = sessionStorage.getItem(TOKEN_KEY) || ''; } catch { dashboardToken = ''; }

function authHeaders() {
  return dashboardToken ? { authorization: 'Bearer ' + dashboardToken } : {};
}

function needToken(err) {
  $('token-section').hidden = false;
  $('token-form').hidden = err.status !== 401;
  $('token-note').textContent = err.status === 401 && dashboardToken
    ? 'The proxy did not take that token (' + err.message + '). Enter its DASHBOARD_TOKEN.'
    : err.status === 401
      ? 'The proxy shows jobs to those who give its DASHBOARD_TOKEN.'
      : err.message + '.';
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  dashboardToken = $('token').value.trim();
  try { sessionStorage.setItem(TOKEN_KEY, dashboardToken); } catch { /* kept for this page only */ }
  $('token').value = '';
  $('token-section').hidden = true;
  for (const again of tokenSeen) again();
});
`;
