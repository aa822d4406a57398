import { createHmac } from 'node:crypto';

/**
 * A node's proof that it knows CLUSTER_SECRET, for the nonce the proxy sent: the secret itself
 * never crosses the wire, and a recorded proof is useless for the next connection.
 */
export function helloProof(secret: string, nonce: string, nodeId: string): string {
  return createHmac('sha256', secret).update(`${nonce}:${nodeId}`).digest('hex');
}
