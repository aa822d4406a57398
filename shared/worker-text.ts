/**
 * The text rule of the worker protocol, for both ends: the output of `DONE` and the error of
 * `FAIL` is the rest of the line, blanks at both ends removed. Text that starts with `"` must
 * be exactly one JSON string, which is decoded (the way to send a newline, blanks at the ends,
 * or text that itself starts with a quote); any other text is taken as it is, so a worker
 * that prints JSON (`DONE <t> {"w":1}`) needs no escaping.
 */

/** Decodes the text of DONE or FAIL; null when a quoted text is not one JSON string. */
export function decodeText(rest: string): string | null {
  const text = rest.trim();
  if (!text.startsWith('"')) return text;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Encodes text for DONE or FAIL: as it is when that reads back unchanged, else as JSON. */
export function encodeText(text: string): string {
  const plain = text === text.trim() && !text.startsWith('"') && !/[\r\n\0]/.test(text);
  return plain ? text : JSON.stringify(text);
}
