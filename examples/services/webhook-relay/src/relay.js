// The webhook relay: POST /hooks/{source} with a JSON body signed like GitHub's webhooks
// (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`). A valid delivery is relayed to
// RELAY_TARGET_URL (retried on network errors and 5xx), answered 202 with its delivery id; anything
// else gets one clear error. GET /healthz for the load balancer. No dependencies beyond Node.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const SOURCE = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function createRelay({
  secret,
  targetUrl,
  fetchImpl = fetch,
  maxBodyBytes = 256 * 1024,
  timeoutMs = 5000,
  retries = 2,
  retryDelayMs = 200,
}) {
  if (!secret || secret.length < 16) throw new Error('WEBHOOK_SECRET must be at least 16 characters');
  if (!/^https?:\/\//.test(targetUrl ?? '')) throw new Error('RELAY_TARGET_URL must be an http(s) URL');

  function signatureValid(body, header) {
    const match = /^sha256=([0-9a-f]{64})$/.exec(header ?? '');
    if (!match) return false;
    const expected = createHmac('sha256', secret).update(body).digest();
    return timingSafeEqual(expected, Buffer.from(match[1], 'hex'));
  }

  async function relay(source, body, delivery) {
    let last = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, retryDelayMs * attempt));
      try {
        const response = await fetchImpl(targetUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-watchy-source': source,
            'x-watchy-delivery': delivery,
          },
          body,
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
        if (response.ok) return { ok: true };
        last = `target answered ${response.status}`;
        if (response.status < 500) return { ok: false, error: last };
      } catch (error) {
        last = `target unreachable: ${error.name === 'TimeoutError' ? 'timed out' : error.message}`;
      }
    }
    return { ok: false, error: `${last} after ${retries + 1} attempts` };
  }

  function readBody(request) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      let size = 0;
      request.on('data', (chunk) => {
        size += chunk.length;
        if (size > maxBodyBytes) {
          reject(Object.assign(new Error('too large'), { status: 413 }));
          request.destroy();
        } else {
          chunks.push(chunk);
        }
      });
      request.on('end', () => resolve(Buffer.concat(chunks)));
      request.on('error', reject);
    });
  }

  async function handle(request) {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz' && request.method === 'GET') return [200, { status: 'ok' }];
    const match = /^\/hooks\/([^/]+)$/.exec(path);
    if (!match) return [404, { error: 'not found' }];
    if (request.method !== 'POST') return [405, { error: 'only POST' }];
    const source = match[1];
    if (!SOURCE.test(source)) return [400, { error: 'invalid source name' }];
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
      return [415, { error: 'expected application/json' }];
    }
    if (Number(request.headers['content-length'] ?? 0) > maxBodyBytes) {
      return [413, { error: `body larger than ${maxBodyBytes} bytes` }];
    }
    const body = await readBody(request);
    if (!signatureValid(body, request.headers['x-hub-signature-256'])) {
      return [401, { error: 'missing or invalid X-Hub-Signature-256' }];
    }
    try {
      JSON.parse(body.toString('utf8'));
    } catch {
      return [400, { error: 'body is not JSON' }];
    }
    const delivery = randomUUID();
    const result = await relay(source, body, delivery);
    console.log(
      JSON.stringify({
        level: result.ok ? 'info' : 'warn',
        source,
        delivery,
        relayed: result.ok,
        error: result.error,
      }),
    );
    return result.ok ? [202, { delivery }] : [502, { delivery, error: result.error }];
  }

  return createServer(async (request, response) => {
    let status;
    let body;
    try {
      [status, body] = await handle(request);
    } catch (error) {
      [status, body] =
        error.status === 413
          ? [413, { error: `body larger than ${maxBodyBytes} bytes` }]
          : [500, { error: 'internal error' }];
    }
    const json = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
    });
    response.end(json);
  });
}
