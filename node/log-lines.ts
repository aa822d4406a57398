import { StringDecoder } from 'node:string_decoder';

/**
 * Turns output bytes, in whatever chunks they come, into lines of text: a line is given out
 * once its newline arrives; the unfinished last one on `end()`. A character cut between two
 * chunks is decoded whole. `\r\n` and a lone `\r` (a progress bar) end lines too, as every
 * line reader takes them, so a reply's line count is the count its client sees.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  push(chunk: Buffer): string[] {
    const text = this.partial + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines.flatMap(crLines);
  }

  /** The last line when the output did not end with a newline. */
  end(): string[] {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return rest === '' ? [] : crLines(rest);
  }
}

function crLines(line: string): string[] {
  const bare = line.endsWith('\r') ? line.slice(0, -1) : line;
  return bare.includes('\r') ? bare.split('\r') : [bare];
}

/** The lines of a whole output (a final newline does not make an empty last line). */
export function linesOf(output: Buffer | string): string[] {
  const s = new LineSplitter();
  const lines = s.push(typeof output === 'string' ? Buffer.from(output) : output);
  return [...lines, ...s.end()];
}
