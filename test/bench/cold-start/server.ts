/**
 * The benchmark's release server, in its own process (as CloudFront is not in the consumer's):
 * serves each route's bytes from memory with an ETag (304 on a matching If-None-Match) and counts
 * the bytes it sends per path. `GET /__stats` returns the counts.
 *
 *   node --import tsx server.ts '<json: {"routes": {"/path": "/file/on/disk", ...}}>'
 *
 * Files that do not exist yet are read on first request (the metadata names the server's port).
 * prints `{"port": N}` once listening.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const { routes } = JSON.parse(process.argv[2] ?? '{}') as { routes: Record<string, string> };
interface Body {
  readonly body: Buffer;
  readonly etag: string;
}
const bodies = new Map<string, Body>();
/** Files that exist now are read now; the others (metadata naming this server's port) on first use. */
function body(path: string): Body | undefined {
  const cached = bodies.get(path);
  if (cached) return cached;
  const file = routes[path];
  if (!file || !existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  const loaded = { body: bytes, etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"` };
  bodies.set(path, loaded);
  return loaded;
}
for (const path of Object.keys(routes)) body(path);
const sent: Record<string, number> = {};

const server = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://x').pathname;
  if (path === '/__stats') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(sent));
    return;
  }
  const route = body(path);
  if (!route) {
    response.writeHead(404).end();
    return;
  }
  if (request.headers['if-none-match'] === route.etag) {
    response.writeHead(304, { etag: route.etag }).end();
    return;
  }
  sent[path] = (sent[path] ?? 0) + route.body.length;
  response.writeHead(200, { 'content-length': route.body.length, etag: route.etag });
  response.end(route.body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
