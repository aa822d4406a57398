import type { LineClient } from './cluster.js';

/** SUBMIT of a JSON spec over the line protocol: its ticket (a refusal throws). */
export async function submitSpec(c: LineClient, spec: unknown): Promise<string> {
  const r = await c.ask(`SUBMIT ${JSON.stringify(spec)}`, 20_000);
  if (!r.startsWith('OK ')) throw new Error(r);
  return r.slice(3);
}

/** A ticket's view: as RESULT gives it now, or as WAIT gives it once the job ended (30 s). */
export async function jobView<V>(c: LineClient, verb: 'RESULT' | 'WAIT', ticket: string) {
  const r = await c.ask(verb === 'WAIT' ? `WAIT ${ticket} 30000` : `RESULT ${ticket}`, 35_000);
  if (!r.startsWith('OK ')) throw new Error(r);
  return JSON.parse(r.slice(3)) as V;
}
