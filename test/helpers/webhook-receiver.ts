/**
 * An operator's webhook receiver for the tests: a real HTTP server on 127.0.0.1 that keeps every
 * request (headers, raw body, when) and answers as told — a status, or never (`hang`: the request
 * is held until the receiver closes) — the first answers from a script, then `then`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Answer = number | 'hang';

export interface Received {
  at: number;
  headers: Record<string, string>;
  body: string;
  answer: Answer;
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** Answers from now on: `script` first, one per request, then `then` for every other. */
  answer(then: Answer, script?: Answer[]): void;
  close(): Promise<void>;
}

export async function startReceiver(then: Answer = 204, script: Answer[] = []): Promise<WebhookReceiver> {
  const received: Received[] = [];
  let queue = [...script];
  let otherwise = then;
  const held = new Set<http.ServerResponse>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const answer = queue.shift() ?? otherwise;
      received.push({
        at: Date.now(),
        headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        answer,
      });
      if (answer === 'hang') {
        held.add(response);
        return;
      }
      response.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    answer: (next, script2 = []) => {
      otherwise = next;
      queue = [...script2];
    },
    close: async () => {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
