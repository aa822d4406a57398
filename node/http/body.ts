import type http from 'node:http';
import { WireError } from '../../shared/errors.js';

/** Reads a JSON request body of at most `limit` bytes. */
export async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new WireError('TOO_LARGE', `bodies are limited to ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new WireError('TOO_LARGE', `bodies are limited to ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new WireError('BAD_REQUEST', 'the body must be a JSON job spec');
  try {
    return JSON.parse(text);
  } catch {
    throw new WireError('BAD_REQUEST', 'the body is not valid JSON');
  }
}
