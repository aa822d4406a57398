import type { FrameOf } from '../shared/protocol.js';
import type { ProxyLink } from './proxy-link.js';
import type { RunLogs } from './run-logs.js';

/** Another node's client reads the output of a run this node executed. */
export async function serveLog(
  runLogs: RunLogs,
  link: ProxyLink,
  f: FrameOf<'LOG_READ'>,
): Promise<void> {
  const key = { ticket: f.ticket, task: f.task };
  await runLogs.whenChanged(key, f.offset, f.waitMs);
  const c = runLogs.read(key, f.offset, f.max);
  link.send({
    type: 'LOG_DATA',
    reqId: f.reqId,
    status: c.status,
    offset: c.offset,
    data: c.data.toString('base64'),
    size: c.size,
    live: c.live,
  });
}
