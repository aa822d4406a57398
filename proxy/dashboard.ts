import { FAILED_SCRIPT, FAILED_SECTION } from './dashboard-failed.js';
import { JOBS_SCRIPT } from './dashboard-jobs.js';
import { LIVE_SCRIPT } from './dashboard-live.js';
import { SCHEDULES_SCRIPT, SCHEDULES_SECTION } from './dashboard-schedules.js';
import { STYLE } from './dashboard-style.js';
import { TOKEN_SCRIPT, TOKEN_SECTION } from './dashboard-token.js';

const BODY = `
<main>
  <header>
    <h1>Petrel</h1>
    <span id="status" class="pill down" role="status">connecting…</span>
    <span class="meta">policy <b id="policy">–</b></span>
    <span class="meta" id="updated"></span>
  </header>
  <div id="banner" role="alert"></div>
  <div id="content">
    <div class="cards" id="cards"></div>
    <section aria-labelledby="chart-title">
      <div class="section-head">
        <h2 id="chart-title">Queue length per node (queued + running), last 2 minutes</h2>
        <fieldset class="window">
          <legend>Time window</legend>
          <label><input type="radio" name="window" value="120000" checked><span>2 min</span></label>
          <label><input type="radio" name="window" value="900000"><span>15 min</span></label>
        </fieldset>
      </div>
      <svg id="chart" role="img" aria-label="Queue length per node over time"></svg>
      <div class="legend" id="legend"></div>
    </section>
    <section aria-labelledby="nodes-title">
      <h2 id="nodes-title">Nodes</h2>
      <div class="table-wrap">
        <table>
          <thead><tr>
            <th scope="col">Node</th><th scope="col">Status</th><th scope="col">Slots</th>
            <th scope="col">Queued</th><th scope="col">Running</th><th scope="col">Free</th>
            <th scope="col" title="Runs this node finished, failed ones included">Finished</th><th scope="col">Last seen</th>
          </tr></thead>
          <tbody id="nodes"><tr><td colspan="8" class="empty">Waiting for data…</td></tr></tbody>
        </table>
      </div>
    </section>
    <section aria-labelledby="tenants-title" id="tenants-section" hidden>
      <h2 id="tenants-title">Tenants</h2>
      <div class="table-wrap">
        <table>
          <thead><tr>
            <th scope="col">Tenant</th><th scope="col">Weight</th><th scope="col">Queued</th>
            <th scope="col">On nodes</th>
          </tr></thead>
          <tbody id="tenants"></tbody>
        </table>
      </div>
    </section>
  </div>
${TOKEN_SECTION}  <section aria-labelledby="find-title">
    <h2 id="find-title">Find a job</h2>
    <form class="search" id="search" role="search">
      <label for="ticket">Ticket</label>
      <input id="ticket" class="ticket" name="ticket" autocomplete="off" spellcheck="false"
        maxlength="40" placeholder="a 26-character ticket">
      <button type="submit">Show</button>
    </form>
    <p id="job-message" class="note" role="status" aria-live="polite"></p>
    <div id="job" class="job" hidden aria-live="polite">
      <div class="job-head">
        <span class="mono" id="job-ticket"></span>
        <span id="job-state" class="pill"></span>
      </div>
      <dl class="fields" id="job-fields"></dl>
      <div id="job-detail"></div>
      <h3>Output</h3>
      <pre id="job-output"></pre>
      <p class="note" id="job-output-note"></p>
    </div>
  </section>
${SCHEDULES_SECTION}${FAILED_SECTION}</main>
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Petrel cluster</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%232f5fb3'/%3E%3C/svg%3E">
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>
'use strict';
${LIVE_SCRIPT}
${TOKEN_SCRIPT}
${JOBS_SCRIPT}
${SCHEDULES_SCRIPT}
${FAILED_SCRIPT}
</script>
</body>
</html>
`;

/**
 * The dashboard served at `/` on the proxy port: one self-contained page (no external assets,
 * so it works on an air-gapped cluster). It loads the proxy's recent history, polls
 * `api/cluster` every 500 ms (nodes, totals, each node's queue over time, tenants), finds a
 * job by ticket and shows its result, lists the active schedules, lists the failed jobs and
 * retries one.
 */
export function dashboardHtml(): string {
  return PAGE;
}
