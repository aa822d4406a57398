import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The path of a system program found on PATH (or in /usr/bin, /usr/sbin), else undefined. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
