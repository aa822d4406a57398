/**
 * Sends request `i` at `arrivals[i]` (ms from the start), whatever the replies do, and resolves
 * with the time from each request's send to its reply, in the order the replies came:
 * `send(i, done)` sends request `i` and calls `done` when its reply is back.
 */
export function pacedRequests(
  arrivals: readonly number[],
  send: (i: number, done: () => void) => void,
): Promise<number[]> {
  const samples: number[] = [];
  const t0 = performance.now();
  return new Promise((resolve) => {
    let next = 0;
    const fire = (): void => {
      const now = performance.now() - t0;
      for (; next < arrivals.length && (arrivals[next] as number) <= now; next++) {
        const sent = performance.now();
        send(next, () => {
          samples.push(performance.now() - sent);
          if (samples.length === arrivals.length) resolve(samples);
        });
      }
      if (next < arrivals.length) setTimeout(fire, (arrivals[next] as number) - now);
    };
    if (arrivals.length === 0) resolve(samples);
    else fire();
  });
}
