import net from 'node:net';

/** One parsed HTTP/1.1 response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `text` as it is on a plain socket and parses the one response the server sends
 * before it closes: fetch always sends a Host and refuses targets that are not valid URLs,
 * and those are what a server must survive.
 */
export function rawExchange(port: number, text: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const what = JSON.stringify(text.slice(0, 60));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${what}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const got = Buffer.concat(chunks).toString('utf8');
      const split = got.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (split < 0 || !status) return reject(new Error(`no HTTP response to ${what}: ${got}`));
      const head = got.slice(0, split).split('\r\n').slice(1);
      const parsed: Record<string, string> = {};
      for (const line of head) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = got.slice(split + 4);
      if (parsed['transfer-encoding'] === 'chunked') body = unchunk(body);
      resolve({ status: Number(status[1]), headers: parsed, body });
    });
    socket.write(text);
  });
}

/**
 * Sends `METHOD target HTTP/1.1` as written, with a Host and `Connection: close`, and the
 * headers given.
 */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return rawExchange(port, `${lines.join('\r\n')}\r\n\r\n`);
}

function unchunk(body: string): string {
  let out = '';
  for (let rest = body; ;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
