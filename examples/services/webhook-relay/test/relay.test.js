import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { createRelay } from '../src/relay.js';

const SECRET = 'a-test-secret-of-32-characters!!';
let target;
let received;
let targetStatuses;
let relay;
let relayUrl;

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const sign = (body) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
const post = (path, body, headers = {}) =>
  fetch(`${relayUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body), ...headers },
    body,
  });

before(async () => {
  target = createServer((request, response) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString() });
      response.writeHead(targetStatuses.shift() ?? 200).end();
    });
  });
  const port = await listen(target);
  relay = createRelay({
    secret: SECRET,
    targetUrl: `http://127.0.0.1:${port}/in`,
    maxBodyBytes: 1024,
    retryDelayMs: 1,
  });
  relayUrl = `http://127.0.0.1:${await listen(relay)}`;
});

beforeEach(() => {
  received = [];
  targetStatuses = [];
});

after(() => {
  relay.close();
  target.close();
});

test('a signed delivery is relayed with its source and a delivery id', async () => {
  const body = JSON.stringify({ action: 'opened' });
  const response = await post('/hooks/github', body);
  assert.equal(response.status, 202);
  const { delivery } = await response.json();
  assert.equal(received.length, 1);
  assert.equal(received[0].body, body);
  assert.equal(received[0].headers['x-watchy-source'], 'github');
  assert.equal(received[0].headers['x-watchy-delivery'], delivery);
});

test('a wrong signature is refused and nothing is relayed', async () => {
  const response = await post('/hooks/github', '{"a":1}', { 'x-hub-signature-256': sign('{"a":2}') });
  assert.equal(response.status, 401);
  assert.equal(received.length, 0);
});

test('a missing signature is refused', async () => {
  const response = await fetch(`${relayUrl}/hooks/github`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(response.status, 401);
});

test('an oversized body is refused with 413', async () => {
  const body = JSON.stringify({ pad: 'x'.repeat(2000) });
  const response = await post('/hooks/github', body);
  assert.equal(response.status, 413);
  assert.equal(received.length, 0);
});

test('a body that is not JSON is refused even when signed', async () => {
  const response = await post('/hooks/github', 'not json');
  assert.equal(response.status, 400);
});

test('a target 5xx is retried, then the delivery succeeds', async () => {
  targetStatuses = [503, 200];
  const response = await post('/hooks/zoom', '{"event":"x"}');
  assert.equal(response.status, 202);
  assert.equal(received.length, 2);
});

test('a target that keeps failing gives 502 after every attempt', async () => {
  targetStatuses = [500, 500, 500];
  const response = await post('/hooks/zoom', '{"event":"x"}');
  assert.equal(response.status, 502);
  assert.match((await response.json()).error, /target answered 500 after 3 attempts/);
});

test('a target 4xx is not retried', async () => {
  targetStatuses = [400];
  const response = await post('/hooks/zoom', '{"event":"x"}');
  assert.equal(response.status, 502);
  assert.equal(received.length, 1);
});

test('a source name with path characters is refused', async () => {
  const response = await post('/hooks/..%2Fadmin', '{}');
  assert.equal(response.status, 400);
});

test('a short secret is refused at start', () => {
  assert.throws(() => createRelay({ secret: 'short', targetUrl: 'http://x' }), /at least 16 characters/);
});
