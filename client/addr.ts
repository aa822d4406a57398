export interface Address {
  host: string;
  port: number;
}

export const DEFAULT_PORT = 9000;

/**
 * Reads `host:port`, `host`, `:port`, `port` or `[v6]:port`; a comma list names several nodes
 * (any node answers for any ticket, so the client moves to the next one when one is down).
 */
export function parseAddrs(text: string | readonly string[]): Address[] {
  const parts = (typeof text === 'string' ? text.split(',') : text)
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new TypeError('no address given (expected host:port)');
  return parts.map(parseOne);
}

function parseOne(s: string): Address {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d{1,5}))?$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
  if (!m) throw new TypeError(`not an address: ${JSON.stringify(s)} (expected host:port)`);
  const onlyPort = /^\d{1,5}$/.test(s);
  const host = onlyPort ? 'localhost' : (m[1] ?? m[2]) || 'localhost';
  const port = Number(onlyPort ? s : (m[3] ?? DEFAULT_PORT));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`not a port: ${JSON.stringify(s)} (1 to 65535)`);
  }
  return { host, port };
}

export const formatAddr = (a: Address) =>
  a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
