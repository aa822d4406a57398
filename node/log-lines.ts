import { StringDecoder } from 'node:string_decoder';
import type { OutputLine, OutputPiece, OutputStream } from '../shared/run-log-format.js';

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

/**
 * Lines of both streams of a run from its output pieces: each stream is split on its own, so
 * a line one stream left unfinished is never joined to the other's; lines come in the order
 * they were completed.
 */
export class StreamLines {
  private readonly splitters: Record<OutputStream, LineSplitter> = {
    stdout: new LineSplitter(),
    stderr: new LineSplitter(),
  };

  push(pieces: readonly OutputPiece[]): OutputLine[] {
    return pieces.flatMap((p) =>
      this.splitters[p.stream].push(p.data).map((text) => ({ stream: p.stream, text })),
    );
  }

  /** The unfinished last lines, stdout's first. */
  end(): OutputLine[] {
    return (['stdout', 'stderr'] as const).flatMap((stream) =>
      this.splitters[stream].end().map((text) => ({ stream, text })),
    );
  }
}

/** The lines of a whole output given as pieces. */
export function streamLinesOf(pieces: readonly OutputPiece[]): OutputLine[] {
  const s = new StreamLines();
  return [...s.push(pieces), ...s.end()];
}
