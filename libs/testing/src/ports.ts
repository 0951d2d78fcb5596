import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

/**
 * The first port the kernel hands out to outgoing connections. A port found free by binding to port 0 comes
 * from that range too, so between the check and the service binding it an outgoing connection of another test
 * could take it (seen: EADDRINUSE on a port freePort had just returned). Ports below the range are never given
 * to outgoing connections.
 */
function ephemeralPortsStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && low > 11_000) return low;
  } catch {
    // not Linux: its usual default
  }
  return 32_768;
}

const FIRST = 10_000;
const LAST = ephemeralPortsStart() - 1;

/** A port on 127.0.0.1 that nothing listens on, below the ephemeral range, picked at random so concurrent test files rarely meet. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(FIRST, LAST + 1);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${FIRST} and ${LAST}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
