/**
 * Splits a line into words the way a POSIX shell does, without running one: blanks separate
 * words; `'...'` keeps everything literally; `"..."` keeps everything but lets `\` escape
 * `"`, `\`, `$` and `` ` ``; outside quotes `\` makes the next character literal. Quoted and
 * unquoted parts next to each other form one word (`a"b c"` is `ab c`), and `""` is an empty
 * word. Nothing is expanded: `$HOME`, `*` and `~` stay as typed, because no shell runs.
 */

export class ShellWordsError extends Error {
  override name = 'ShellWordsError';
}

/** Characters a backslash escapes inside double quotes (POSIX; newlines never reach here). */
const DQ_ESCAPABLE = new Set(['"', '\\', '$', '`']);

/** The words of `line`; throws ShellWordsError for an unterminated quote or a final `\`. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError(`unterminated ' quote at column ${i + 1}`);
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      const [text, next] = doubleQuoted(line, i);
      word += text;
      i = next;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ShellWordsError('the line ends with a lone \\');
      word += line[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The text of the double-quoted part opening at `start`, and the index just after it. */
function doubleQuoted(line: string, start: number): [string, number] {
  let text = '';
  let i = start + 1;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === '"') return [text, i + 1];
    if (c === '\\' && i + 1 < line.length && DQ_ESCAPABLE.has(line[i + 1] as string)) {
      text += line[i + 1];
      i += 2;
    } else {
      text += c;
      i++;
    }
  }
  throw new ShellWordsError(`unterminated " quote at column ${start + 1}`);
}

/** Whether `line` uses any quoting, so splitting it differs from splitting on blanks. */
export function hasQuoting(line: string): boolean {
  return /["'\\]/.test(line);
}
