/**
 * The options every command takes (--addr, --token, --reply-timeout, --reconnect-timeout,
 * --json) may also come before the command, as with most command lines
 * (`petrel --addr node-2:9000 ls`): they are moved to just after the command's name, where
 * each command reads them. Anything else before the command (help, version, an unknown
 * option) is left where it is, for the parser to answer.
 */
const WITH_VALUE = new Set(['--addr', '--token', '--reply-timeout', '--reconnect-timeout']);
const FLAGS = new Set(['--json']);

/** `args` without the program and script (process.argv.slice(2)), global options moved. */
export function hoistGlobalOptions(args: readonly string[]): string[] {
  const moved: string[] = [];
  let i = 0;
  while (i < args.length) {
    const a = args[i] as string;
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    if (WITH_VALUE.has(name) && a.includes('=')) moved.push(a);
    else if (WITH_VALUE.has(a) && i + 1 < args.length) moved.push(a, args[++i] as string);
    else if (FLAGS.has(a)) moved.push(a);
    else break;
    i++;
  }
  const command = args[i];
  // no command after them, or not a command's name: leave everything for the parser to judge
  if (moved.length === 0 || command === undefined || command.startsWith('-')) return [...args];
  return [command, ...moved, ...args.slice(i + 1)];
}
