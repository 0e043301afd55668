/**
 * A TCP relay in front of a real server that lets a test kill the server at a chosen request: every byte is
 * passed through unchanged until the `killAt`-th request whose first line starts with `requestLine`; that
 * request is forwarded, then `kill` runs (kill -9 of the server process) and the relay goes away with it —
 * its connections dropped, its port closed — so the client sees what a killed server at that address does.
 * The server's own decode is too fast on a tiny model to kill it mid-step by timing; counting requests
 * makes "mid-step" exact.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface KillingRelay {
  /** The relay's http://127.0.0.1:PORT/v1. */
  url: string;
  /** Resolves once the kill has run. */
  killed: Promise<void>;
}

export async function killingRelay(
  targetPort: number,
  requestLine: string,
  killAt: number,
  kill: () => Promise<void>,
): Promise<KillingRelay> {
  const sockets = new Set<Socket>();
  let seen = 0;
  let done!: () => void;
  const killed = new Promise<void>((r) => (done = r));
  const relay = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (!chunk.toString('latin1').startsWith(requestLine) || ++seen !== killAt) return;
      // Forwarded and in flight: now the server dies, and its address with it.
      void kill().then(() => {
        relay.close();
        for (const s of sockets) s.destroy();
        done();
      });
    });
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}/v1`, killed };
}
