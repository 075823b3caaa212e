/**
 * The reference the join figure is measured against: a bare Fastify 5 server, logging off, with one
 * `POST /join` route answering a JSON object of exactly `--size` bytes (the size of a real join
 * response, measured by the bench first). It runs as its own child process, like the server under
 * test, and prints `{"msg":"reference listening","url":...}` once it listens on 127.0.0.1.
 *
 * Usage: node dist/bench/reference-server.js --size 757
 */
import Fastify from 'fastify';

const index = process.argv.indexOf('--size');
const size = Number(process.argv[index + 1]);
const overhead = JSON.stringify({ token: '' }).length;
if (index < 0 || !Number.isInteger(size) || size < overhead) {
  process.stderr.write(`usage: reference-server --size <bytes, at least ${overhead}>\n`);
  process.exit(2);
}

// One string field padded to the size; Fastify still serializes it on every request.
const body = { token: 'x'.repeat(size - overhead) };
if (JSON.stringify(body).length !== size) throw new Error('reference body has the wrong size');

const app = Fastify({ logger: false });
app.post('/join', async () => body);

const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ msg: 'reference listening', url, size })}\n`);

const close = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', close);
process.on('SIGINT', close);
