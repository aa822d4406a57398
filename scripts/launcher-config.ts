/**
 * What `npm start` needs from the environment before it starts anything: how many nodes,
 * and the ports of the proxy and of each node's client and HTTP listeners (or that the
 * HTTP API is off). An empty value
 * counts as unset (as it does for the proxy and the nodes); every problem is told at once.
 */

type Env = Record<string, string | undefined>;

export interface LauncherPorts {
  nodes: number;
  proxyPort: number;
  /** Nodes' client ports are clientBase, clientBase+1, ...; their HTTP ports likewise. */
  clientBase: number;
  /** 0: the nodes' HTTP API is off (`HTTP_PORT=0` or `off`). */
  httpBase: number;
}

/** `HTTP_PORT=0` or `off` (any letter case): the nodes serve no HTTP API. */
function httpOff(text: string | undefined): boolean {
  const t = (text ?? '').trim().toLowerCase();
  return t === 'off' || /^0+$/.test(t);
}

/** A whole number from `min` to `max` read from decimal text, or undefined. */
function wholeNumber(text: string, min: number, max: number): number | undefined {
  if (!/^\s*\d+\s*$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** The launcher's settings, or the lines that say what to change. */
export function launcherPorts(env: Env): LauncherPorts | { problems: string[] } {
  const problems: string[] = [];
  const read = (name: string, fallback: number, min: number, max: number, allowed: string) => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const n = wholeNumber(text, min, max);
    if (n === undefined) problems.push(`${name}=${JSON.stringify(text)}: must be ${allowed}`);
    return n ?? fallback;
  };
  const nodes = read('NODES', 3, 1, 64, 'a whole number from 1 to 64');
  const proxyPort = read('PROXY_PORT', 8080, 1, 65535, 'a port number from 1 to 65535');
  const last = 65535 - nodes + 1;
  const rangeText = `a port number from 1 to ${last} (NODES=${nodes} nodes use it and the ${nodes - 1} after it)`;
  const clientBase = read('CLIENT_PORT', 9000, 1, last, rangeText);
  // each node's HTTP API: 9100, 9101, ... unless HTTP_PORT names another first port, or is
  // 0 / off (as a node reads HTTP_PORT=0)
  const httpBase = httpOff(env.HTTP_PORT)
    ? 0
    : read('HTTP_PORT', 9100, 1, last, `0 or off (no HTTP API), or ${rangeText}`);
  if (problems.length > 0) return { problems };
  const overlaps = (a: number, b: number) => a < b + nodes && b < a + nodes;
  const inRange = (p: number, base: number) => base > 0 && p >= base && p < base + nodes;
  if (httpBase > 0 && overlaps(clientBase, httpBase)) {
    problems.push(
      `CLIENT_PORT=${clientBase} and HTTP_PORT=${httpBase} overlap: the nodes' client ports are ` +
        `${clientBase}..${clientBase + nodes - 1} and their HTTP ports ${httpBase}..${httpBase + nodes - 1}; ` +
        'move one of them',
    );
  }
  for (const [name, base] of [
    ['CLIENT_PORT', clientBase],
    ['HTTP_PORT', httpBase],
  ] as const) {
    if (inRange(proxyPort, base)) {
      problems.push(
        `PROXY_PORT=${proxyPort} is one of the nodes' ports ${base}..${base + nodes - 1} ` +
          `(from ${name}): move one of them`,
      );
    }
  }
  return problems.length > 0 ? { problems } : { nodes, proxyPort, clientBase, httpBase };
}
