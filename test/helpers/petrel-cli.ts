import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist');
const bin = join(dist, 'cli', 'main.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the real `petrel` command (dist/cli/main.js) as a subprocess; with `teardown`, one
 * still running at the test's end is killed then.
 */
export function spawnPetrel(
  args: string[],
  opts: SpawnOptions = {},
): { child: ChildProcess; done: Promise<CliRun> } {
  return spawnProgram(bin, args, opts);
}

interface SpawnOptions {
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  teardown?: (fn: () => unknown) => void;
}

/**
 * Runs a program of dist/ (`proxy/main.js`, `node/main.js`, ...) to its end with `args`, its
 * environment only PATH and `opts.env`; killed after `timeoutMs`.
 */
export async function runDist(
  program: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  const { child, done } = spawnProgram(join(dist, program), args, opts);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

function spawnProgram(
  file: string,
  args: string[],
  opts: SpawnOptions,
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [file, ...args], {
    // the coverage of the command is counted too when the tests run under coverage
    env: { PATH: process.env.PATH ?? '', ...coverageEnv(), ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: opts.cwd,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin?.end(opts.input ?? '');
  const done = new Promise<CliRun>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  const { teardown } = opts; // called bare, as tap's t.teardown is when passed around
  teardown?.(() => void child.kill('SIGKILL'));
  return { child, done };
}

/** Runs `petrel` to its end. */
export function petrel(
  args: string[],
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<CliRun> {
  return spawnPetrel(args, opts).done;
}

function coverageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['NODE_V8_COVERAGE', 'NODE_OPTIONS']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}
