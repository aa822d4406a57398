import http from 'node:http';

/** One keep-alive agent, so sampling every 10 ms does not open a connection each time. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** GET a JSON document from 127.0.0.1, failing after `timeoutMs`. */
export async function getJson(port: number, path: string, timeoutMs = 2000): Promise<unknown> {
  const body = await getText(port, path, timeoutMs);
  try {
    return JSON.parse(body);
  } catch {
    throw new Error(`GET ${path}: not JSON: ${body.slice(0, 200)}`);
  }
}

/** GET a text document (e.g. `/metrics`) from 127.0.0.1, failing after `timeoutMs`. */
export function getText(port: number, path: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          return;
        }
        resolve(body);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on('error', reject);
  });
}

/** A node as `/api/cluster` shows it (only the fields the benchmark reads). */
export interface ApiNode {
  readonly id: string;
  readonly connected: boolean;
  readonly slots: number;
  readonly queued: number;
  readonly running: number;
  /** Jobs the proxy has given the node and not yet seen finish (its own accounting). */
  readonly outstanding?: number;
}

/** `/api/cluster`, loosely checked: the benchmark needs nodes with their load. */
export interface ApiCluster {
  readonly nodes: ApiNode[];
  readonly queue?: { queued?: number };
}

function isApiCluster(v: unknown): v is ApiCluster {
  if (typeof v !== 'object' || v === null) return false;
  const nodes = (v as { nodes?: unknown }).nodes;
  return Array.isArray(nodes);
}

/** Fetches the proxy's view of the cluster. */
export async function getCluster(proxyPort: number, timeoutMs = 2000): Promise<ApiCluster> {
  const body = await getJson(proxyPort, '/api/cluster', timeoutMs);
  if (!isApiCluster(body)) throw new Error('/api/cluster: no nodes array');
  return body;
}

/** Lets the process exit without waiting for idle keep-alive sockets. */
export function closeHttp(): void {
  agent.destroy();
}
