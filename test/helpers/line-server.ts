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
    let text = '';
    s.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const reply = answer(text.slice(0, nl));
        text = text.slice(nl + 1);
        if (reply !== undefined) s.write(reply + '\n');
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}
