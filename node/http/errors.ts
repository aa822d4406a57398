import type http from 'node:http';
import { WIRE_CODES, WireError, type WireCode } from '../../shared/errors.js';

/** The HTTP status of each wire code (DESIGN.md, "HTTP API"). */
export const HTTP_STATUS: Record<WireCode, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_COMMAND: 404,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TOO_LARGE: 413,
  BUSY: 429,
  TIMEOUT: 408,
  UNAVAILABLE: 503,
};

/** Sends `{"error":{"code","message"}}` with the status of its code. */
export function sendError(res: http.ServerResponse, err: WireError, status?: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (err.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer realm="petrel"';
  res.writeHead(status ?? HTTP_STATUS[err.code], headers);
  res.end(
    JSON.stringify({ error: { code: err.code, message: err.message || WIRE_CODES[err.code] } }),
  );
}

/** Sends JSON that is already text (the line protocol's own result JSON, byte for byte). */
export function sendJsonText(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}
