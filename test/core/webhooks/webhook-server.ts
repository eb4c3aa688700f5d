/**
 * Serves route handlers of the /api contract over real HTTP for tests: each request becomes an
 * ApiRequest (lower-case headers, raw body bytes), each ApiResponse a JSON response.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiRequest, ApiResponse } from '@core/api/contract';

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export type Route = (request: ApiRequest) => Promise<ApiResponse>;

export interface TestApiServer {
  readonly url: string;
  post(path: string, body: string | Buffer, headers: Record<string, string>): Promise<ApiAnswer>;
  close(): Promise<void>;
}

export async function serveRoutes(routes: Readonly<Record<string, Route>>): Promise<TestApiServer> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = routes[`${req.method} ${url.pathname}`];
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const request: ApiRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        headers,
        query: Object.fromEntries(url.searchParams),
        rawBody: Buffer.concat(chunks),
      };
      const answer = route
        ? route(request)
        : Promise.resolve<ApiResponse>({ status: 404, body: { error: 'no route', check: 'path' } });
      answer
        .then((response) => {
          res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
          res.end(typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? {}));
        })
        .catch((error: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: error.message, check: 'the handler' }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async post(path, body, headers) {
      const response = await fetch(`${url}${path}`, { method: 'POST', body, headers });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
