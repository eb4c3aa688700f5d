import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { createApp } from '../src/app.js';

let distribution;
let api;
let apiUrl;

const METADATA = {
  version: '1.4.0',
  build_time: '2026-11-20T10:00:00Z',
  source_revision: 'a'.repeat(40),
  metadata_version: 7,
  target_architecture: 'x86_64',
  download_url: 'https://example.net/binaries/slack-monitor/watchy-slack-monitor-1.4.0.gz',
  signature: { alg: 'ES256', key_id: 'k', value: 'v' },
};

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

before(async () => {
  distribution = createServer((request, response) => {
    if (request.url === '/binaries/slack-monitor/watchy-slack-monitor.json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(METADATA));
    } else if (request.url === '/binaries/broken-monitor/watchy-broken-monitor.json') {
      response.writeHead(200).end('{not json');
    } else if (request.url === '/binaries/down-monitor/watchy-down-monitor.json') {
      response.writeHead(503).end();
    } else {
      response.writeHead(403).end();
    }
  });
  const port = await listen(distribution);
  api = createApp({ baseUrl: `http://127.0.0.1:${port}/binaries/`, service: { service: 'status-api' } });
  apiUrl = `http://127.0.0.1:${await listen(api)}`;
});

after(() => {
  api.close();
  distribution.close();
});

test('healthz answers ok', async () => {
  const response = await fetch(`${apiUrl}/healthz`);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).status, 'ok');
});

test('a release reports its live version, commit and metadata_version', async () => {
  const response = await fetch(`${apiUrl}/v1/releases/slack-monitor`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    name: 'slack-monitor',
    version: '1.4.0',
    build_time: '2026-11-20T10:00:00Z',
    source_revision: 'a'.repeat(40),
    metadata_version: 7,
    target_architecture: 'x86_64',
    signed: true,
    download_url: METADATA.download_url,
  });
});

test('an unknown release is a 404 (CloudFront answers 403 for missing keys)', async () => {
  const response = await fetch(`${apiUrl}/v1/releases/nothing-monitor`);
  assert.equal(response.status, 404);
});

test('a path trick in the name is refused before any fetch', async () => {
  const response = await fetch(`${apiUrl}/v1/releases/..%2Fstate`);
  assert.equal(response.status, 400);
});

test('metadata that is not JSON is a 502 naming the URL', async () => {
  const response = await fetch(`${apiUrl}/v1/releases/broken-monitor`);
  assert.equal(response.status, 502);
  assert.match((await response.json()).error, /watchy-broken-monitor\.json is not JSON/);
});

test('a distribution error is a 502', async () => {
  const response = await fetch(`${apiUrl}/v1/releases/down-monitor`);
  assert.equal(response.status, 502);
});

test('only GET is served', async () => {
  const response = await fetch(`${apiUrl}/healthz`, { method: 'POST' });
  assert.equal(response.status, 405);
});
