import { CLOSED_REPLY, LineClient } from '../line-client.js';
import { sleep } from './context.js';

/** A client connection bound to one node; reconnects (polling) after the node restarted. */
export class Conn {
  private client: LineClient | undefined;
  private connecting: Promise<LineClient> | undefined;
  private closed = false;
  timeouts = 0;

  constructor(
    readonly node: number,
    private readonly port: number,
    private readonly live: () => void,
  ) {}

  /** One request and its reply; CLOSED_REPLY when the connection died or the reply timed out. */
  async request(line: string, timeoutMs: number): Promise<string> {
    const c = await this.get();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((r) => {
      timer = setTimeout(() => r('TIMED_OUT'), timeoutMs);
    });
    const reply = await Promise.race([c.request(line), late]);
    clearTimeout(timer);
    if (reply !== 'TIMED_OUT') return reply;
    this.timeouts++;
    c.close(); // the other requests pipelined on it get CLOSED_REPLY and are retried
    return CLOSED_REPLY;
  }

  close(): void {
    this.closed = true;
    this.client?.close();
  }

  private get(): Promise<LineClient> {
    if (this.client && !this.client.isClosed) return Promise.resolve(this.client);
    this.connecting ??= this.reconnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async reconnect(): Promise<LineClient> {
    for (;;) {
      this.live(); // throws past the deadline or once aborted
      if (this.closed) throw new Error('connection closed');
      try {
        this.client = await LineClient.connect(this.port, 2000);
        return this.client;
      } catch {
        await sleep(25);
      }
    }
  }
}
