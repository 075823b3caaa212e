/** Free port ranges for tests that configure ROSTRUM_RTC_PORT_RANGE or start servers on fixed ports. */
import dgram from 'node:dgram';
import net from 'node:net';

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive ports free for both UDP and TCP on `host` right now: [first, last]. */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let port = base; port < base + count && ok; port++) ok = (await udpFree(port, host)) && (await tcpFree(port, host));
    if (ok) return [base, base + count - 1];
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
