// The status API: GET /healthz, and GET /v1/releases/{name} which reads the latest metadata of a
// released artifact ({BINARY_DISTRIBUTION_URL}/{name}/watchy-{name}.json) and answers with what an
// operator asks first: which version is live, built when, from which commit, at which
// metadata_version. No dependencies beyond Node itself.
import { createServer } from 'node:http';

/** Artifact names as the platform writes them: `slack-monitor`, `backend-lambda-arm64`. */
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$/;
const MAX_METADATA_BYTES = 64 * 1024;

export function createApp({ baseUrl, fetchImpl = fetch, timeoutMs = 3000, service = {} }) {
  if (!/^https?:\/\//.test(baseUrl ?? '')) throw new Error('BINARY_DISTRIBUTION_URL must be an http(s) URL');
  const base = baseUrl.replace(/\/+$/, '');
  const started = Date.now();

  async function release(name) {
    const url = `${base}/${name}/watchy-${name}.json`;
    let response;
    try {
      response = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch (error) {
      return [
        502,
        { error: `cannot reach ${url}: ${error.name === 'TimeoutError' ? 'timed out' : error.message}` },
      ];
    }
    if (response.status === 404 || response.status === 403) return [404, { error: `no release of ${name}` }];
    if (!response.ok) return [502, { error: `${url} answered ${response.status}` }];
    const text = await response.text();
    if (Buffer.byteLength(text) > MAX_METADATA_BYTES) return [502, { error: `${url} is larger than 64 KiB` }];
    let metadata;
    try {
      metadata = JSON.parse(text);
    } catch {
      return [502, { error: `${url} is not JSON` }];
    }
    if (typeof metadata !== 'object' || metadata === null || typeof metadata.version !== 'string') {
      return [502, { error: `${url} is not release metadata` }];
    }
    return [
      200,
      {
        name,
        version: metadata.version,
        build_time: metadata.build_time ?? null,
        source_revision: metadata.source_revision ?? null,
        metadata_version: metadata.metadata_version ?? null,
        target_architecture: metadata.target_architecture ?? null,
        signed: typeof metadata.signature === 'object' && metadata.signature !== null,
        download_url: metadata.download_url ?? null,
      },
    ];
  }

  async function route(method, path) {
    if (method !== 'GET' && method !== 'HEAD') return [405, { error: 'only GET' }];
    if (path === '/healthz') {
      return [200, { status: 'ok', uptime_seconds: Math.round((Date.now() - started) / 1000), ...service }];
    }
    const match = /^\/v1\/releases\/([^/]+)$/.exec(path);
    if (match) {
      const name = decodeURIComponent(match[1]);
      if (!NAME.test(name)) return [400, { error: 'invalid release name' }];
      return release(name);
    }
    return [404, { error: 'not found' }];
  }

  return createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    let status;
    let body;
    try {
      [status, body] = await route(request.method ?? 'GET', path);
    } catch (error) {
      [status, body] = [500, { error: 'internal error' }];
      console.error(JSON.stringify({ level: 'error', message: String(error) }));
    }
    const json = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    response.end(request.method === 'HEAD' ? undefined : json);
  });
}
