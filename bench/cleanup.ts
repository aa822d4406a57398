/**
 * Last-resort cleanup for the benchmark process: whatever happens (normal end, an error, an
 * uncaught exception, Ctrl-C), every child process is killed and every temp dir removed.
 * Registered callbacks must be synchronous and idempotent: they also run from `exit`.
 */

type SyncCleanup = () => void;

const callbacks = new Set<SyncCleanup>();
let installed = false;

/** Registers a synchronous cleanup; returns a function that unregisters it. */
export function onCleanup(fn: SyncCleanup): () => void {
  callbacks.add(fn);
  return () => callbacks.delete(fn);
}

/** Runs every registered cleanup once, each in its own try/catch. */
export function runCleanup(): void {
  for (const fn of [...callbacks]) {
    callbacks.delete(fn);
    try {
      fn();
    } catch {
      // a failed cleanup must not stop the others
    }
  }
}

/**
 * Installs the process handlers. `onSignal` gets a chance to stop children gracefully (so
 * `--cpu-prof` profiles are written) before the forced cleanup; a second signal forces.
 */
export function installCleanupHandlers(onSignal: (signal: NodeJS.Signals) => Promise<void>): void {
  if (installed) return;
  installed = true;
  process.on('exit', runCleanup);
  let signalled = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (signalled) {
      runCleanup();
      process.exit(130);
    }
    signalled = true;
    process.stderr.write(`\nbench: ${signal}, stopping the cluster...\n`);
    const force = setTimeout(() => {
      runCleanup();
      process.exit(130);
    }, 5000);
    force.unref();
    onSignal(signal)
      .catch(() => undefined)
      .finally(() => {
        runCleanup();
        process.exit(130);
      });
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  process.on('SIGHUP', handle);
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: uncaught exception: ${err.stack ?? String(err)}\n`);
    runCleanup();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(
      `bench: unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    runCleanup();
    process.exit(1);
  });
}
