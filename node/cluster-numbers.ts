/**
 * The proxy's `/api/cluster` (its nodes, queue and totals) for `STATS` and `petrel top`, read
 * over the proxy's HTTP at the address the node joins; null when the proxy does not answer
 * within 2 s, so a node always reports itself.
 */
export async function readClusterNumbers(proxyUrl: string): Promise<unknown> {
  try {
    const url = new URL(proxyUrl);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.pathname = '/api/cluster';
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}
