import { WireError } from '../shared/errors.js';
import {
  DEFAULT_MAX_ATTEMPTS,
  MAX_ARG_BYTES,
  MAX_ARGS,
  TYPE_NAME_RE,
  type JobSpec,
} from '../shared/job.js';
import { hasQuoting, ShellWordsError, splitWords } from '../shared/shell-words.js';

/** What `SUBMIT <type> [arg ...]` asks for, before the schema checks it. */
export interface PlainSubmit {
  type: string;
  args: string[];
}

/**
 * `SUBMIT <type> [arg ...]`: words split as a POSIX shell splits them. echo returns its words
 * joined by one space, as a shell's echo prints them; a line without quotes or backslashes
 * keeps its text exactly as typed, inner spacing included.
 */
export function plainSubmit(rest: string): PlainSubmit {
  let words: string[];
  try {
    words = splitWords(rest);
  } catch (e) {
    if (e instanceof ShellWordsError) throw new WireError('BAD_REQUEST', `SUBMIT: ${e.message}`);
    throw e;
  }
  const [type, ...args] = words;
  if (type === undefined) throw new WireError('BAD_REQUEST', 'usage: SUBMIT <type> [arg ...]');
  if (type.toLowerCase() !== 'echo') return { type: type.toLowerCase(), args };
  const typed = rest.replace(/^\S+\s*/, '');
  const text = hasQuoting(typed) ? args.join(' ') : typed;
  return { type: 'echo', args: text === '' ? [] : [text] };
}

/**
 * The spec the schema (`JobSpecSchema`) makes of a plain SUBMIT that it accepts as it is, with
 * its defaults, checked here by hand: the job path's most common line then skips the schema's
 * generic walk. Undefined when the schema has to judge it (a `sleep`'s milliseconds, or
 * anything it may refuse), so every refusal still comes from the schema, worded as always.
 */
export function plainSpec(p: PlainSubmit): JobSpec | undefined {
  if (p.type === 'sleep' || !TYPE_NAME_RE.test(p.type) || p.args.length > MAX_ARGS) return;
  if (p.type === 'exec' && (p.args[0] ?? '') === '') return;
  for (const a of p.args) if (a.length > MAX_ARG_BYTES) return;
  return { type: p.type, args: p.args, priority: 0, maxAttempts: DEFAULT_MAX_ATTEMPTS };
}
