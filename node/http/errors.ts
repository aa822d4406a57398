import type http from 'node:http';
export { HTTP_STATUS } from '../../shared/errors.js';
export { sendError } from '../../shared/http.js';

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
