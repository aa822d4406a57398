/** The dashboard's stylesheet: light and dark, readable on a phone, visible keyboard focus. */
export const STYLE = `
:root {
  --bg: #f6f7f9; --card: #fff; --text: #1d2330; --muted: #5d6675; --line: #e4e7ec;
  --ok: #0f7a55; --bad: #b42d0a; --bad-bg: #fef3f2; --warn: #8a5a00; --grid: #eef0f3;
  --accent: #2f5fb3; --accent-text: #fff; --code: #f2f4f7;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217; --card: #171b22; --text: #e6e8eb; --muted: #a3acba; --line: #2a303b;
    --ok: #3ccb8f; --bad: #ff8266; --bad-bg: #2a1714; --warn: #f2c14e; --grid: #222833;
    --accent: #7aa5f0; --accent-text: #0f1217; --code: #11151b;
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
.pill.live, .pill.done { background: color-mix(in srgb, var(--ok) 15%, transparent); color: var(--ok); }
.pill.down, .pill.failed, .pill.cancelled { background: var(--bad-bg); color: var(--bad); }
.pill.queued, .pill.running, .pill.scheduled, .pill.blocked { background: color-mix(in srgb, var(--warn) 15%, transparent); color: var(--warn); }
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
.section-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: baseline; gap: 4px 12px; }
#chart { display: block; width: 100%; height: 240px; }
#chart text { fill: var(--muted); font-size: 11px; }
#chart .grid { stroke: var(--grid); stroke-width: 1; }
#chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
#chart .global { stroke: var(--muted); stroke-dasharray: 5 4; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 6px; font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.swatch.dashed { width: 16px; background: repeating-linear-gradient(90deg, var(--muted) 0 4px, transparent 4px 6px); }
fieldset.window { border: 0; margin: 0; padding: 0; display: flex; gap: 4px; font-size: 12px; }
fieldset.window legend { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
fieldset.window label { padding: 2px 8px; border: 1px solid var(--line); border-radius: 6px; cursor: pointer; color: var(--muted); }
fieldset.window input { position: absolute; opacity: 0; width: 1px; height: 1px; }
fieldset.window input:checked + span { color: var(--text); font-weight: 600; }
fieldset.window label:has(input:checked) { border-color: var(--accent); }
fieldset.window label:has(input:focus-visible) { outline: 2px solid var(--accent); outline-offset: 2px; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
#job-detail th, #job-detail td { text-align: left; }
td.wrap { white-space: normal; text-align: left; max-width: 360px; overflow-wrap: anywhere; }
tr.off td { color: var(--muted); }
.status-on { color: var(--ok); font-weight: 600; }
.status-off { color: var(--bad); font-weight: 600; }
.empty { color: var(--muted); text-align: center; padding: 16px; }
.stale { opacity: .6; }
.mono, code, pre, input.ticket { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
form.search { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
form.search label { font-weight: 600; }
input.ticket {
  flex: 1 1 280px; max-width: 340px; padding: 6px 8px; font-size: 14px; letter-spacing: .03em;
  border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--text);
}
button {
  font: inherit; padding: 5px 12px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-text); font-weight: 600;
}
button.secondary { background: transparent; color: var(--accent); }
button.link { border: 0; background: none; color: var(--accent); padding: 0; font-weight: 400; text-decoration: underline; }
button:disabled { opacity: .55; cursor: default; }
td.runs button.pill { border: 0; padding: 1px 8px; margin: 0 4px 2px 0; font-size: 12px; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.job { margin-top: 12px; }
.job[hidden], form.search[hidden] { display: none; }
.job-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; margin-bottom: 8px; }
.job-head .mono { font-size: 15px; font-weight: 600; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 8px; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; overflow-wrap: anywhere; }
h3 { font-size: 13px; margin: 10px 0 4px; color: var(--muted); }
pre {
  margin: 0; padding: 8px 10px; background: var(--code); border: 1px solid var(--line); border-radius: 6px;
  max-height: 320px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12.5px;
}
.note { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
.error-text { color: var(--bad); }
@media (max-width: 560px) {
  main { padding: 10px; }
  #chart { height: 180px; }
  .card .value { font-size: 18px; }
  th, td { padding: 5px 6px; }
  input.ticket { max-width: none; }
}
`;
