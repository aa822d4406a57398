#!/usr/bin/env node
/**
 * `npm start`: a whole cluster on this machine, one proxy and NODES nodes (default 3) with
 * client ports 9000, 9001, ..., data under DATA_DIR (default ./data; one folder per process),
 * every log line in one readable stream. A process that dies is started again after a short
 * pause, as a node or the proxy killed at any moment rejoins; one that cannot start, or keeps
 * dying, stops the cluster. Ctrl-C stops them all gracefully (a second Ctrl-C forces).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment } from '../shared/config.js';
import { PROXY_NODE_FLAGS } from '../shared/node-flags.js';
import { launcherPorts } from './launcher-config.js';
import { describeEnding, RestartPolicy } from './restart-policy.js';

const env = environment();
const here = dirname(fileURLToPath(import.meta.url));
const settings = launcherPorts(env);
if ('problems' in settings) {
  for (const p of settings.problems) process.stderr.write(`npm start: ${p}\n`);
  process.exit(1);
}
const { nodes, proxyPort, clientBase: basePort, httpBase } = settings;
// DATA_DIR is the root here: each process gets a folder of its own in it (DATA_ROOT: the
// launcher's earlier name for it)
const dataRoot = env.DATA_DIR || env.DATA_ROOT || './data';

/** Whether `port` can be listened on (on every address, as the processes do). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

/** Stops before starting anything when a port is taken, saying which variable moves it. */
async function checkPorts(): Promise<void> {
  const problems: string[] = [];
  if (!(await portFree(proxyPort))) {
    problems.push(
      `port ${proxyPort} (the proxy) is in use: move it with PROXY_PORT, e.g. PROXY_PORT=${proxyPort + 1} npm start`,
    );
  }
  for (const [variable, base, what] of [
    ['CLIENT_PORT', basePort, 'client port'],
    ['HTTP_PORT', httpBase, 'HTTP API port'],
  ] as const) {
    if (base === 0) continue; // HTTP_PORT=0: no HTTP API
    const taken: number[] = [];
    for (let i = 0; i < nodes; i++) if (!(await portFree(base + i))) taken.push(base + i);
    if (taken.length === 0) continue;
    problems.push(
      `port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} (${what} of a node) in use: ` +
        `nodes listen on ${variable}, ${variable}+1, ...; move them with e.g. ${variable}=${base + 1000} npm start`,
    );
  }
  if (problems.length === 0) return;
  for (const p of problems) process.stderr.write(`npm start: ${p}\n`);
  process.exit(1);
}

const COLORS = ['\x1b[35m', '\x1b[36m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[31m'];
const RESET = '\x1b[0m';
const useColor = process.stdout.isTTY;
const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** Turns a pino JSON line into `time name level message key=value...`. */
function pretty(name: string, color: string, line: string): string {
  let text = line;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { time, level, msg, name: _n, pid: _p, hostname: _h, ...rest } = o;
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const t = typeof time === 'string' ? time.slice(11, 23) : '';
    text = `${t} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${extra ? `  ${extra}` : ''}`;
  } catch {
    // not JSON (a crash trace): shown as it is
  }
  const tag = name.padEnd(10);
  return useColor ? `${color}${tag}${RESET} ${text}` : `${tag} ${text}`;
}

interface Child {
  name: string;
  proc: ChildProcess;
  /** When it was started (ms), and whether it has said it is listening. */
  startedAt: number;
  ready: boolean;
  restarts: RestartPolicy;
  /** A restart waiting for its pause to end. */
  pending?: NodeJS.Timeout;
}

const children: Child[] = [];

/**
 * Starts `script` with Node's options `flags`, its log lines prefixed by `name`; `readyText`
 * is what it logs once it listens (an exit before that is a failure to start).
 */
function run(
  name: string,
  script: string,
  extraEnv: Record<string, string>,
  color: string,
  flags: readonly string[] = [],
  readyText = 'listening',
): void {
  const start = () =>
    spawn(process.execPath, [...flags, join(here, script)], {
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group: a terminal's Ctrl-C reaches only this launcher, which then
      // stops the nodes before the proxy
      detached: true,
    });
  const child: Child = {
    name,
    proc: start(),
    startedAt: Date.now(),
    ready: false,
    restarts: new RestartPolicy(name),
  };
  children.push(child);
  const watch = (proc: ChildProcess) => {
    for (const stream of [proc.stdout, proc.stderr]) {
      createInterface({ input: stream! }).on('line', (l) => {
        if (proc === child.proc && !child.ready && l.includes(readyText)) child.ready = true;
        process.stdout.write(pretty(name, color, l) + '\n');
      });
    }
    // 'close': its last lines (what it logged before dying) have been read by then
    proc.on('close', (code, signal) => {
      if (stopping) {
        process.stdout.write(`${name} exited (${describeEnding({ code, signal })})\n`);
        return;
      }
      const ranMs = Date.now() - child.startedAt;
      const d = child.restarts.decide({ code, signal }, ranMs, child.ready, Date.now());
      process.stdout.write(`${d.message}\n`);
      if (!d.restart) {
        stop(1);
        return;
      }
      child.pending = setTimeout(() => {
        child.pending = undefined;
        if (stopping) return;
        child.proc = start();
        child.startedAt = Date.now();
        child.ready = false;
        watch(child.proc);
      }, d.delayMs);
    });
  };
  watch(child.proc);
}

let stopping = false;
let exitCode = 0;
function stop(code = 0): void {
  exitCode = Math.max(exitCode, code);
  if (stopping) {
    for (const c of children) c.proc.kill('SIGKILL');
    return;
  }
  stopping = true;
  for (const c of children) clearTimeout(c.pending);
  process.stdout.write('\nstopping the cluster...\n');
  // nodes first, so they hand back their work while the proxy is still there
  for (const c of children.slice(1)) c.proc.kill('SIGTERM');
  const proxy = children[0];
  Promise.all(children.slice(1).map((c) => exited(c.proc)))
    .then(() => {
      proxy?.proc.kill('SIGTERM');
      return proxy ? exited(proxy.proc) : undefined;
    })
    .then(() => process.exit(exitCode));
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

process.on('exit', () => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

await checkPorts();
run(
  'proxy',
  '../proxy/main.js',
  { DATA_DIR: join(dataRoot, 'proxy'), PROXY_PORT: String(proxyPort) },
  COLORS[0] as string,
  PROXY_NODE_FLAGS,
);
for (let i = 0; i < nodes; i++) {
  const port = basePort + i;
  run(
    `node-${port}`,
    '../node/main.js',
    {
      NODE_ID: `node-${port}`,
      DATA_DIR: join(dataRoot, `node-${port}`),
      CLIENT_PORT: String(port),
      HTTP_PORT: httpBase === 0 ? '0' : String(httpBase + i),
      PROXY_URL: `ws://127.0.0.1:${proxyPort}/cluster`,
    },
    COLORS[(i + 1) % COLORS.length] as string,
  );
}

/** Where the nodes' HTTP API is, or that it is off and how to turn it on. */
function httpSummary(): string[] {
  if (httpBase === 0) {
    return ['  HTTP API:   off (HTTP_PORT=0; leave HTTP_PORT unset for 9100, 9101, ...)'];
  }
  const where = nodes === 1 ? '' : `nodes on ${httpBase}..${httpBase + nodes - 1}; `;
  return [
    `  HTTP API:   curl localhost:${httpBase}/v1/jobs -d '{"type":"echo","args":["hi"]}'`,
    `              (${where}GET /v1/openapi.json describes it)`,
    '              (HTTP_PORT=off npm start runs the nodes without it)',
  ];
}

process.stdout.write(
  [
    '',
    `Petrel: a proxy and ${nodes} node${nodes === 1 ? '' : 's'} are starting.`,
    `  connect:    nc localhost ${basePort}`,
    '  try:        SUBMIT echo hello      then   WAIT <ticket>',
    '              500                    (the seed dialect: a 500 ms sleep job)',
    ...httpSummary(),
    `  dashboard:  http://localhost:${proxyPort}/`,
    `  data:       ${dataRoot} (a folder per process; DATA_DIR moves it)`,
    '  stop:       Ctrl-C (a process that dies on its own is started again)',
    '',
  ].join('\n') + '\n',
);
