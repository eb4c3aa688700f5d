/**
 * GET over node:http/https with a connect timeout, an idle timeout (no bytes for N ms), keep-alive
 * connections (a warm start's conditional GET reuses the socket) and retries with exponential
 * backoff on network errors and 5xx, never on 4xx.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { LoaderError } from './errors';

export interface HttpSettings {
  /** TCP connect must finish within this. */
  readonly connectTimeoutMs: number;
  /** A request fails when no byte arrives for this long (headers or body). */
  readonly idleTimeoutMs: number;
  /** Further attempts after the first one, on network errors and 5xx only. */
  readonly retries: number;
  /** First backoff; doubles per attempt, with jitter. */
  readonly backoffMs: number;
}

export class HttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });

  constructor(readonly settings: HttpSettings) {}

  /** One GET; resolves with the response once headers arrive. Statuses are the caller's business. */
  open(url: string, headers: Readonly<Record<string, string>> = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        reject(new LoaderError('http', url, 'not a valid URL'));
        return;
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        reject(new LoaderError('http', url, `unsupported protocol ${target.protocol}`));
        return;
      }
      const secure = target.protocol === 'https:';
      const request = (secure ? https : http).request(target, {
        method: 'GET',
        agent: secure ? this.httpsAgent : this.httpAgent,
        headers: { 'accept-encoding': 'identity', 'user-agent': 'watchy-loader/1', ...headers },
      });
      let response: IncomingMessage | undefined;
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (error: LoaderError) => {
        clearTimeout(connectTimer);
        response?.destroy(error);
        request.destroy(error);
      };
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        const ms = this.settings.connectTimeoutMs;
        connectTimer = setTimeout(
          () => fail(new LoaderError('timeout', url, `no connection within ${ms} ms`, true)),
          ms,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      request.setTimeout(this.settings.idleTimeoutMs, () =>
        fail(
          new LoaderError('timeout', url, `no data for ${this.settings.idleTimeoutMs} ms (stalled)`, true),
        ),
      );
      request.on('error', (error) => {
        clearTimeout(connectTimer);
        reject(asLoaderError(error, url));
      });
      request.on('response', (res) => {
        clearTimeout(connectTimer);
        response = res;
        resolve(res);
      });
      request.end();
    });
  }

  /** Runs `attempt` until it succeeds, fails for good, or the retries are used up. */
  async withRetries<T>(attempt: () => Promise<T>, onRetry?: (error: LoaderError) => void): Promise<T> {
    for (let n = 0; ; n += 1) {
      try {
        return await attempt();
      } catch (error) {
        const failure = asLoaderError(error, '');
        if (!failure.retryable || n >= this.settings.retries) throw failure;
        onRetry?.(failure);
        const backoff = this.settings.backoffMs * 2 ** n;
        await new Promise((resolve) => setTimeout(resolve, backoff / 2 + Math.random() * (backoff / 2)));
      }
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Throws a LoaderError for any status but the expected ones; 5xx is retryable, 4xx is not. */
export function expectStatus(response: IncomingMessage, url: string, expected: readonly number[]): void {
  const status = response.statusCode ?? 0;
  if (expected.includes(status)) return;
  response.resume();
  throw new LoaderError('http', url, `HTTP ${status} ${response.statusMessage ?? ''}`.trim(), status >= 500);
}

/** Reads a whole (small) body, refusing more than `cap` bytes before buffering them. */
export async function readCapped(
  response: IncomingMessage,
  url: string,
  cap: number,
  check: 'metadata-size',
): Promise<Buffer> {
  const declared = Number(response.headers['content-length'] ?? NaN);
  if (declared > cap) {
    response.destroy();
    throw new LoaderError(check, url, `${declared} bytes is over the ${cap}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > cap) {
        response.destroy();
        throw new LoaderError(check, url, `more than ${cap} bytes (the limit)`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    throw asLoaderError(error, url);
  }
  return Buffer.concat(chunks, total);
}

/** Network errors (resets, refusals, DNS, aborted bodies) become retryable `http` failures. */
export function asLoaderError(error: unknown, url: string): LoaderError {
  if (error instanceof LoaderError) return error;
  const err = error as NodeJS.ErrnoException;
  const what = err.code ? `${err.code}: ${err.message}` : (err.message ?? String(error));
  return new LoaderError('http', url, `network error (${what})`, true);
}
