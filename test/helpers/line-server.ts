import net from 'node:net';

/**
 * A server that accepts connections and answers only what `answer` says (nothing at all by
 * default): a hung node, or another program on the port.
 */
export async function lineServer(
  teardown: (fn: () => unknown) => void,
  answer: (line: string) => string | undefined = () => undefined,
): Promise<number> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onLines(s, (line) => {
      const reply = answer(line);
      if (reply !== undefined) s.write(reply + '\n');
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

/** Calls `fn` with each line `socket` receives, without its newline. */
export function onLines(socket: net.Socket, fn: (line: string) => void): void {
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      fn(line);
    }
  });
}
